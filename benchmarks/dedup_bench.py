"""How fast `lorakit data check` finds duplicates and conflicts in 100,000 rows.

Generates varied synthetic support conversations (random words from a
vocabulary of a few thousand, 1-3 turns, 20-120 words each) with planted
exact duplicates, near-duplicates (a word or two changed) and conflicting
answers (same prompt, a different answer), writes them as JSONL, runs the
full `check_path` on it (parsing, schema, PII/mojibake/markup, near-dup and
conflicts; no tokenizer, so no too_long) and prints rows/s, wall time and how
many planted pairs were found.

    python benchmarks/dedup_bench.py                 # 100k rows
    python benchmarks/dedup_bench.py --rows 20000 --json out.json
    python benchmarks/dedup_bench.py --save bench.jsonl   # then: lorakit data check bench.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from lorakit.data.check import check_path  # noqa: E402


def _vocab(rng: random.Random, size: int = 4000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(size)]


def _text(rng: random.Random, vocab: list[str], lo: int, hi: int) -> str:
    return " ".join(rng.choice(vocab) for _ in range(rng.randint(lo, hi))).capitalize() + "."


def _row(rng: random.Random, vocab: list[str]) -> dict:
    messages = [{"role": "system", "content": "You are Pip, the helpful Acme support bot."}]
    for _ in range(rng.randint(1, 3)):
        messages.append({"role": "user", "content": _text(rng, vocab, 8, 40)})
        messages.append({"role": "assistant", "content": _text(rng, vocab, 20, 80)})
    return {"messages": messages}


def _near(rng: random.Random, vocab: list[str], row: dict) -> dict:
    out = json.loads(json.dumps(row))
    words = out["messages"][-1]["content"].split()
    words[rng.randrange(len(words))] = rng.choice(vocab)
    out["messages"][-1]["content"] = " ".join(words)
    return out


def _conflict(rng: random.Random, vocab: list[str], row: dict) -> dict:
    out = json.loads(json.dumps(row))
    out["messages"][-1]["content"] = _text(rng, vocab, 20, 80)
    return out


def generate(n: int, seed: int = 0) -> tuple[list[dict], Counter]:
    """n rows: about 2% exact duplicates, 2% near-duplicates, 1% conflicts."""
    rng = random.Random(seed)
    vocab = _vocab(rng)
    rows: list[dict] = []
    planted: Counter = Counter()
    makers = {"exact_duplicate": lambda r: json.loads(json.dumps(r)),
              "near_duplicate": lambda r: _near(rng, vocab, r),
              "conflicting_answers": lambda r: _conflict(rng, vocab, r)}
    weights = {"exact_duplicate": 0.02, "near_duplicate": 0.02, "conflicting_answers": 0.01}
    while len(rows) < n:
        kind = None
        if len(rows) > 100:
            pick = rng.random()
            for name, w in weights.items():
                if pick < w:
                    kind = name
                    break
                pick -= w
        if kind:
            rows.append(makers[kind](rows[rng.randrange(len(rows) - 50)]))
            planted[kind] += 1
        else:
            rows.append(_row(rng, vocab))
    return rows, planted


def _cpu() -> float:
    """CPU seconds of this process and its finished workers."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None,
                        help="processes for the per-row work (default: check's own choice)")
    parser.add_argument("--json", dest="json_path", help="write the figures here as JSON")
    parser.add_argument("--save", help="only write the generated rows to this JSONL file "
                                       "(to time `lorakit data check` on it)")
    args = parser.parse_args()

    rows, planted = generate(args.rows, args.seed)
    if args.save:
        Path(args.save).write_text("".join(json.dumps(r) + "\n" for r in rows))
        print(f"wrote {len(rows)} rows to {args.save}; planted {dict(planted)}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        load0 = os.getloadavg()[0]  # other work on the machine skews the wall time
        start, cpu0 = time.perf_counter(), _cpu()
        report = check_path(path, progress=False, workers=args.workers)
        wall, cpu = time.perf_counter() - start, _cpu() - cpu0
    found = Counter(f.check for f in report.findings)
    result = {
        "rows": report.rows, "wall_s": round(wall, 2), "rows_per_s": round(report.rows / wall),
        "cpu_s": round(cpu, 2), "workers": args.workers,
        "load_avg_1m_start": load0, "load_avg_1m": os.getloadavg()[0],
        "planted": dict(planted),
        "found": {k: found[k] for k in ("exact_duplicate", "near_duplicate",
                                        "conflicting_answers")},
        "other_findings": {k: v for k, v in found.items() if k not in planted},
    }
    print(f"{result['rows']} rows checked in {wall:.1f}s ({result['rows_per_s']} rows/s), "
          f"{cpu:.1f} CPU-s, load average {load0:.1f} -> {result['load_avg_1m']:.1f}")
    for kind, count in planted.items():
        print(f"  {kind:20s} planted {count:6d}  found {found[kind]:6d}")
    if result["other_findings"]:
        print(f"  other findings: {result['other_findings']}")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
