"""The expected findings of raw_messy.jsonl: DEFECTS.md for people, defects.json for tests.

Used by make_messy.py. Each record names where `lorakit data check --eval
heldout.jsonl` should report a planted defect (path, line, check, related).
Stdlib only.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

RAW, HELD = "examples/support/raw_messy.jsonl", "examples/support/heldout.jsonl"

PUNCT = re.compile(r"[!-/:-@\\[-`{-~]")


def bigrams(row: dict) -> set:
    """Word bigrams of a row's non-system messages (how near copies are compared)."""
    out = set()
    for m in row.get("messages", []):
        if m.get("role") != "system" and isinstance(m.get("content"), str):
            words = PUNCT.sub(" ", m["content"].lower().replace("\u2019", "'")).split()
            out.update(zip(words, words[1:]))
    return out


def also_near(kind: str, data: bytes, source: dict | None) -> bool:
    """Whether a copy with a changed role or emptied turn is also a near duplicate.

    Roles are not compared, so a role rename leaves the conversation 100% alike;
    an emptied turn leaves the rest alike, often over the 80% threshold.
    """
    if kind not in ("unknown role", "empty message") or source is None:
        return False
    a, b = bigrams(json.loads(data)), bigrams(source)
    return bool(a | b) and len(a & b) / len(a | b) >= 0.8


def expected(out: list, train: list[dict], expect: dict[str, str]) -> list[dict]:
    """Every finding `data check --eval heldout.jsonl` should report, as records."""
    first_line: dict = {}
    for n, entry in enumerate(out, 1):
        first_line.setdefault(entry[4], n)  # a train row comes before its copies
    found = []
    for n, (data, kind, note, label, src) in enumerate(out, 1):
        if not kind:
            continue
        here = {"path": RAW, "line": n}
        rec = {**here, "check": expect[kind].split(" ")[0], "defect": kind, "from": label,
               "note": note}
        if kind in ("exact duplicate", "near duplicate", "conflicting answer"):
            rec["related"] = {"path": RAW, "line": first_line[src]}
        elif kind == "leak from heldout.jsonl":
            # the checker puts it on the eval row, naming the train row it copies
            held = int(label.split(":")[1])
            rec.update(path=HELD, line=held, related=here)
        elif kind == "whitespace junk":
            rec["check"] = None
        found.append(rec)
        if also_near(kind, data, train[src] if src is not None else None):
            found.append({**here, "check": "near_duplicate", "defect": kind, "from": label,
                                    "note": "also a near copy of its source: " + (
                              "roles are not compared" if kind == "unknown role" else
                              "the rest of the conversation is alike"),
                          "related": {"path": RAW, "line": first_line[src]}})
    return found


def _where(rec: dict | None) -> str:
    return f"{rec['path']}:{rec['line']}" if rec else ""


def write_defects(path: Path, out: list, records: list[dict], n_train: int,
                  expect: dict[str, str], seed: int) -> None:
    """DEFECTS.md: every planted defect, with the finding and line the checker reports."""
    counts = Counter(kind for _, kind, *_ in out if kind)
    rows = [f"| {_where(r)} | {r['defect']} | {r['check'] or '(none: clean fixes it)'} | "
            f"{r['from']} | {_where(r.get('related'))} | {r['note']} |" for r in records]
    summary = "\n".join(f"| {k} | {expect[k]} | {counts[k]} |" for k in expect)
    extra = sum(1 for r in records if r["check"] == "near_duplicate"
                and r["defect"] != "near duplicate")
    text = f"""# Planted defects in raw_messy.jsonl

Written by `make_messy.py` (seed {seed}); do not edit by hand, rerun the script. The same
list, machine-readable, is `defects.json` (tests/test_examples.py checks both against
`lorakit data check`).
`raw_messy.jsonl` has {len(out)} lines: the {n_train} rows of `train.jsonl` in their
order (some changed in place), plus {len(out) - n_train} extra rows. Line numbers are
1-based. Rows not listed here are clean copies of train rows. The personal data is
made up (invented names, mail domains and
numbers, and the standard Visa test card number).

Repairable defects are planted in place (the clean row is recoverable); the rest are
extra rows placed after the row they copy, so the later row carries the finding.
Leaks from heldout.jsonl show up when checking with `--eval examples/support/heldout.jsonl`;
the checker reports them on the heldout row, with `related` naming the raw_messy row, and
so does the table below. {extra} rows copied with a renamed role or an emptied turn are
also near copies of their source, and are listed a second time with `near_duplicate`.
A street address has no check of its own in every tool; it is listed as personal data.

| defect | expected check | rows |
| --- | --- | --- |
{{summary}}

| where (file:line) | defect | expected check | from | related | what was done |
| --- | --- | --- | --- | --- | --- |
""".replace("{summary}", summary) + "\n".join(rows) + "\n"
    path.write_text(text, encoding="utf-8", newline="\n")
