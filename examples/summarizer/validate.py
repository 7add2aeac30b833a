"""Check the summarizer dataset against its house style (standard library only).

    python examples/summarizer/validate.py

Checks, for train.csv and heldout.csv:
- the CSV parses with header ``article,summary`` and no empty cells;
- at least MIN_ROWS rows per split;
- articles have 80-200 words, summaries 15-30 words;
- each summary is exactly one sentence: starts with a capital, ends with a
  period, and has no other sentence end, question, exclamation or semicolon;
- faithfulness, roughly: every capitalised word, digit and number word in a
  summary also appears in its article (so names and figures are not invented);
- no duplicate or near-duplicate articles (or summaries) within or across
  splits (difflib ratio over words below NEAR_DUP);
- no '@', phone-like digit runs or markup anywhere;
- the JSONL files exist and hold exactly the CSV rows (see to_jsonl.py).
Exits 1 and lists every problem if any check fails.
"""

from __future__ import annotations

import csv
import difflib
import itertools
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from to_jsonl import to_example  # noqa: E402

MIN_ROWS = {"train": 90, "heldout": 22}
ARTICLE_WORDS = (80, 200)
SUMMARY_WORDS = (15, 30)
NEAR_DUP = 0.5
PHONE = re.compile(r"\d(?:[\s().-]?\d){6,}")
MARKUP = re.compile(r"<[^>]*>|&[a-z]+;|\[/?[a-z]+\]")
NUMBER_WORDS = {
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
    "eighteen", "nineteen", "twenty", "thirty", "forty", "fifty", "sixty",
    "seventy", "eighty", "ninety", "hundred", "thousand", "million", "billion",
}


def words(text: str) -> list[str]:
    return text.split()


def tokens(text: str) -> set[str]:
    """Lower-cased word pieces: hyphens split ('six-week'), possessives dropped."""
    pieces = re.findall(r"[a-z0-9']+", text.lower())
    return {re.sub(r"'s?$", "", p) for p in pieces} - {""}


def sentence_problems(summary: str) -> list[str]:
    """Why a summary is not exactly one plain declarative sentence."""
    found = []
    if not summary[:1].isupper():
        found.append("does not start with a capital letter")
    if not summary.endswith(".") or summary.endswith(".."):
        found.append("does not end with a single period")
    if re.search(r"[.!?]\s", summary[:-1]) or re.search(r"[!?;]", summary):
        found.append("has more than one sentence, a question, an exclamation or a semicolon")
    return found


def unfaithful(article: str, summary: str) -> list[str]:
    """Names, digits and number words in the summary that the article lacks.

    The first word is skipped unless it is a name (it is capitalised anyway).
    """
    art = tokens(article)
    missing = set()
    for i, word in enumerate(summary.split()):
        pieces = tokens(word)
        named = word[:1].isupper() and (i > 0 or word not in ("The", "A", "An"))
        wanted = pieces if named else {p for p in pieces
                                       if p in NUMBER_WORDS or any(c.isdigit() for c in p)}
        if not wanted <= art:
            missing.add(word.strip(".,"))
    return sorted(missing)


def check_row(split: str, line: int, row: dict[str, str]) -> list[str]:
    """Every style problem of one row, each prefixed with its place."""
    where = f"{split}.csv line {line}"
    art, summ = row.get("article") or "", row.get("summary") or ""
    if not art.strip() or not summ.strip():
        return [f"{where}: empty cell"]
    found = []
    lo, hi = ARTICLE_WORDS
    if not lo <= len(words(art)) <= hi:
        found.append(f"{where}: article has {len(words(art))} words (want {lo}-{hi})")
    lo, hi = SUMMARY_WORDS
    if not lo <= len(words(summ)) <= hi:
        found.append(f"{where}: summary has {len(words(summ))} words (want {lo}-{hi})")
    found += [f"{where}: summary {p}" for p in sentence_problems(summ)]
    missing = unfaithful(art, summ)
    if missing:
        found.append(f"{where}: summary words not in article: {missing}")
    for text in (art, summ):
        if "@" in text or PHONE.search(text) or MARKUP.search(text):
            found.append(f"{where}: '@', a phone-like digit run or markup")
    return found


def read_split(split: str) -> tuple[list[dict[str, str]], list[str]]:
    """Rows of one CSV and the problems of its shape."""
    path = HERE / f"{split}.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    found = []
    if reader.fieldnames != ["article", "summary"]:
        found.append(f"{split}.csv: header is {reader.fieldnames}, want ['article', 'summary']")
    if len(rows) < MIN_ROWS[split]:
        found.append(f"{split}.csv: {len(rows)} rows, want at least {MIN_ROWS[split]}")
    for line, row in enumerate(rows, start=2):
        found += check_row(split, line, row)
    return rows, found


def near_duplicates(named: list[tuple[str, str]]) -> tuple[list[str], str]:
    """Pairs whose word-level difflib ratio reaches NEAR_DUP, and the closest pair.

    Every pair is compared (about 7,000 for this set, a few seconds), so the
    reported closest pair is the true maximum, not one past a quick filter.
    """
    found, worst = [], (0.0, "", "")
    seqs = [(name, text.lower().split()) for name, text in named]
    for (n1, a), (n2, b) in itertools.combinations(seqs, 2):
        ratio = difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
        worst = max(worst, (ratio, n1, n2))
        if ratio >= NEAR_DUP:
            found.append(f"{n2}: near-duplicate of {n1} (ratio {ratio:.2f})")
    ratio, n1, n2 = worst
    return found, f"{ratio:.2f} ({n1} vs {n2})"


def jsonl_problems(split: str, rows: list[dict[str, str]]) -> list[str]:
    """The JSONL must be exactly to_example() of each CSV row, in order."""
    path = HERE / f"{split}.jsonl"
    if not path.exists():
        return [f"{split}.jsonl missing: run to_jsonl.py"]
    got = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    want = [to_example(r) for r in rows]
    if got != want:
        return [f"{split}.jsonl is out of sync with {split}.csv: run to_jsonl.py"]
    return []


def main() -> int:
    problems, named, summaries, stats = [], [], [], {}
    for split in MIN_ROWS:
        rows, found = read_split(split)
        problems += found + jsonl_problems(split, rows)
        named += [(f"{split}.csv line {i}", r["article"]) for i, r in enumerate(rows, 2)]
        summaries += [(f"{split}.csv line {i} summary", r["summary"])
                      for i, r in enumerate(rows, 2)]
        stats[split] = rows
    dups, worst = near_duplicates(named)
    problems += dups
    sdups, sworst = near_duplicates(summaries)
    problems += sdups

    # a short report either way, so a clean run still shows what was checked
    for split, rows in stats.items():
        aw = [len(words(r["article"])) for r in rows] or [0]
        sw = [len(words(r["summary"])) for r in rows] or [0]
        print(f"{split}: {len(rows)} rows, article words {min(aw)}-{max(aw)} "
              f"(mean {sum(aw) / max(len(rows), 1):.0f}), summary words {min(sw)}-{max(sw)} "
              f"(mean {sum(sw) / max(len(rows), 1):.1f})")
    print(f"closest articles: ratio {worst}, limit {NEAR_DUP}")
    print(f"closest summaries: ratio {sworst}, limit {NEAR_DUP}")
    for p in problems:
        print("PROBLEM", p)
    print("ok" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
