"""Check the support dataset against its house style (standard library only).

    python examples/support/validate.py

Checks, for train.jsonl and heldout.jsonl:
- UTF-8, LF line ends, one JSON object a line with only a ``messages`` list;
- the shared system prompt first, then user and assistant turns alternating,
  ending on an assistant turn; no empty or untrimmed content;
- the voice: the first answer opens with "Hey there, rider!", every answer ends
  with the sign-off line, each answer is 1 to 5 sentences (greeting included);
- no '@', URLs, markup characters, mojibake, phone-like digit runs, and no
  character outside ASCII but the em dash of the sign-off;
- no exact duplicates, and no near duplicates within or across the files:
  3-word-shingle Jaccard of the whole conversation under NEAR_JACCARD and
  difflib ratio of the first question under NEAR_RATIO (boilerplate removed);
- at least MIN_ROWS rows per file, and 10-20% multi-turn rows in train.
Exits 1 and lists every problem if any check fails; prints the closest pairs.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from itertools import combinations
from pathlib import Path

HERE = Path(__file__).resolve().parent
SYSTEM = "You are the support assistant for Larkspur Cycles, a small bike shop."
GREETING = "Hey there, rider!"
SIGN_OFF = "\u2014 Wren, Larkspur Cycles"
MIN_ROWS = {"train.jsonl": 160, "heldout.jsonl": 32}
NEAR_JACCARD = 0.5
NEAR_RATIO = 0.85
BANNED = re.compile(r"[@<>&]|https?:|www\.|\u00c3|\u00e2\u20ac")
PHONE_LIKE = re.compile(r"\d(?:[\s().\-]*\d){6,}")


def check_message(where: str, i: int, m: dict, problems: list[str]) -> None:
    """Shape, characters and voice of one message (i counts from the system turn)."""
    text = m.get("content")
    if set(m) != {"role", "content"} or not isinstance(text, str):
        problems.append(f"{where}: message {i} is not {{role, content}}")
        return
    want = "system" if i == 0 else ("user" if i % 2 else "assistant")
    if m["role"] != want:
        problems.append(f"{where}: message {i} is {m['role']!r}, expected {want!r}")
    if not text.strip() or text != text.strip():
        problems.append(f"{where}: message {i} is empty or untrimmed")
    if BANNED.search(text) or PHONE_LIKE.search(text):
        problems.append(f"{where}: message {i} has a banned pattern: {text[:60]!r}")
    if re.search(r"[^\x00-\x7f\u2014]", text):
        problems.append(f"{where}: message {i} has non-ASCII text: {text[:60]!r}")
    if want == "assistant":
        if not text.endswith("\n\n" + SIGN_OFF):
            problems.append(f"{where}: answer {i} lacks the sign-off")
        if i == 2 and not text.startswith(GREETING + " "):
            problems.append(f"{where}: first answer lacks the greeting")
        body = text[: -len(SIGN_OFF)].strip()
        sentences = len(re.findall(r"[.!?](?:\s|$)", body))
        if not 1 <= sentences <= 5:
            problems.append(f"{where}: answer {i} has {sentences} sentences")


def load(name: str, problems: list[str]) -> list[tuple[str, list[dict]]]:
    """Rows of one file as (where, messages); problems are appended, not raised."""
    raw = (HERE / name).read_bytes()
    if b"\r" in raw or not raw.endswith(b"\n"):
        problems.append(f"{name}: CR found or no final LF")
    rows = []
    for number, line in enumerate(raw.decode("utf-8").split("\n")[:-1], start=1):
        where = f"{name}:{number}"
        row = json.loads(line)
        messages = row.get("messages") if isinstance(row, dict) else None
        if set(row) != {"messages"} or not isinstance(messages, list):
            problems.append(f"{where}: not an object with only a 'messages' list")
            continue
        if not messages or messages[0] != {"role": "system", "content": SYSTEM}:
            problems.append(f"{where}: does not start with the shared system prompt")
        for i, m in enumerate(messages):
            check_message(where, i, m, problems)
        if len(messages) < 3 or messages[-1].get("role") != "assistant":
            problems.append(f"{where}: does not end on an assistant turn")
        rows.append((where, messages))
    if len(rows) < MIN_ROWS[name]:
        problems.append(f"{name}: {len(rows)} rows, want at least {MIN_ROWS[name]}")
    return rows


def words(text: str) -> list[str]:
    for fixed in (SYSTEM, GREETING, SIGN_OFF, "Let's keep you rolling."):
        text = text.replace(fixed, " ")
    return re.sub(r"[^a-z0-9 ]", " ", text.lower()).split()


def near_pairs(rows: list[tuple[str, list[dict]]], problems: list[str]) -> None:
    """Flag exact and near duplicates; print the five closest pairs."""
    seen: dict[str, str] = {}
    for where, messages in rows:
        key = json.dumps(messages)
        if key in seen:
            problems.append(f"{where}: exact duplicate of {seen[key]}")
        seen.setdefault(key, where)
    shingles, firsts = [], []
    for _, messages in rows:
        w = words(" ".join(m["content"] for m in messages))
        shingles.append({tuple(w[i:i + 3]) for i in range(max(1, len(w) - 2))})
        firsts.append(" ".join(words(messages[1]["content"])))
    scored = []
    for a, b in combinations(range(len(rows)), 2):
        jaccard = len(shingles[a] & shingles[b]) / len(shingles[a] | shingles[b])
        ratio = difflib.SequenceMatcher(None, firsts[a], firsts[b]).ratio()
        scored.append((max(jaccard / NEAR_JACCARD, ratio / NEAR_RATIO), jaccard, ratio, a, b))
        if jaccard >= NEAR_JACCARD or ratio >= NEAR_RATIO:
            problems.append(f"{rows[b][0]}: near duplicate of {rows[a][0]} "
                            f"(jaccard {jaccard:.2f}, ratio {ratio:.2f})")
    print("closest pairs (jaccard of the conversation, ratio of the first question):")
    for _, jaccard, ratio, a, b in sorted(scored, reverse=True)[:5]:
        print(f"  {jaccard:.2f} {ratio:.2f}  {rows[a][0]} {firsts[a][:40]!r}"
              f"  ~  {rows[b][0]} {firsts[b][:40]!r}")


def main() -> int:
    problems: list[str] = []
    train, heldout = load("train.jsonl", problems), load("heldout.jsonl", problems)
    multi = sum(len(m) > 3 for _, m in train)
    if not 0.10 <= multi / max(1, len(train)) <= 0.20:
        problems.append(f"train.jsonl: {multi} multi-turn rows of {len(train)}, want 10-20%")
    print(f"train {len(train)} rows ({multi} multi-turn), heldout {len(heldout)} rows "
          f"({sum(len(m) > 3 for _, m in heldout)} multi-turn)")
    near_pairs(train + heldout, problems)
    for problem in problems:
        print("PROBLEM", problem)
    print(f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
