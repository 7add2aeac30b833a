"""Write train.jsonl and heldout.jsonl from the CSVs, so the two forms never drift.

The CSVs are the source of truth (edit those); this script turns each
``article,summary`` row into one canonical chat example. It uses only the
standard library so it runs before lorakit is installed.

    python examples/summarizer/to_jsonl.py

The same messages come from lorakit itself (it adds each row's source line
under ``meta``):

    lorakit data import examples/summarizer/train.csv \\
        --map article=user --map summary=assistant \\
        --system "Summarize the article in one sentence." --out train.jsonl
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SYSTEM = "Summarize the article in one sentence."
SPLITS = ("train", "heldout")


def read_rows(path: Path) -> list[dict[str, str]]:
    """Return the CSV rows as dicts; fail loudly on a wrong header."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames != ["article", "summary"]:
            raise SystemExit(f"{path}: header must be article,summary, got {reader.fieldnames}")
        return list(reader)


def to_example(row: dict[str, str]) -> dict:
    """One CSV row as a canonical chat example (system, user, assistant)."""
    return {"messages": [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": row["article"]},
        {"role": "assistant", "content": row["summary"]},
    ]}


def convert(split: str) -> int:
    """Write <split>.jsonl next to <split>.csv and return the row count."""
    rows = read_rows(HERE / f"{split}.csv")
    lines = [json.dumps(to_example(r), ensure_ascii=False) for r in rows]
    (HERE / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(rows)


def main() -> None:
    for split in SPLITS:
        print(f"{split}.jsonl: {convert(split)} rows")


if __name__ == "__main__":
    main()
