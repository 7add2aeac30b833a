"""`lorakit data clean`: repair what can be repaired, reject the rest with reasons.

Repairs never change what a row means: text read with the wrong encoding,
mojibake (ftfy), a few junk characters a broken decoding left ('ÿþ', U+FFFD,
control characters), stray HTML markup outside code, whitespace, role names
other tools use ('human', 'gpt'), empty system messages. Every other error
rejects the row (personal data included: it must not reach training data),
and so does a later duplicate, near-duplicate or conflicting answer (the first
row is kept) and a train row that overlaps the eval file. Each rejected row
goes to the rejects file with its source line and reasons, so rows in ==
kept + rejected, always. Rows with only warnings are kept and counted.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lorakit.core.example import Example, Finding, Message
from lorakit.core.io import atomic_write_text
from lorakit.data import content
from lorakit.data.check import SEVERITY, length_finding, message_findings, progress_rows
from lorakit.data.dedup import DedupIndex
from lorakit.data.read import Row, iter_rows
from lorakit.data.schema import canonical_role, content_findings
from lorakit.data.tokens import TokenCounter

# findings that reject a row in `data clean`: every error, and near duplicates
REJECT = {c for c, s in SEVERITY.items() if s == "error"} | {"near_duplicate"}


@dataclass
class CleanReport:
    """What `data clean` did; ``to_dict`` is its ``--format json`` output."""

    path: str
    out: str
    rejects: str
    rows_in: int = 0
    kept: int = 0
    rejected: int = 0
    repaired: int = 0
    repairs: Counter = field(default_factory=Counter)  # repair kind -> rows
    reasons: Counter = field(default_factory=Counter)  # check id -> rejected rows
    warnings: Counter = field(default_factory=Counter)  # check id -> kept rows

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "out": self.out, "rejects": self.rejects,
                "rows_in": self.rows_in, "kept": self.kept, "rejected": self.rejected,
                "repaired": self.repaired, "repairs": dict(self.repairs),
                "reject_reasons": dict(self.reasons), "kept_warnings": dict(self.warnings)}


def repair(example: Example, row: Row) -> tuple[Example, list[str]]:
    """The example with meaning-preserving repairs applied, and their kinds."""
    done = ["encoding"] if row.encoding != "utf-8" else []
    messages = []
    for m in example.messages:
        role, text = m.role, m.content
        if role not in ("system", "user", "assistant") and canonical_role(role):
            role = canonical_role(role)
            done.append("role")
        for kind, fix in (("mojibake", _fix_mojibake), ("junk", content.strip_junk),
                          ("markup", _fix_markup), ("whitespace", content.fix_whitespace)):
            fixed = fix(text)
            if fixed is None:  # too much junk to strip: leave it for the check to reject
                break
            if fixed != text:
                done.append(kind)
                text = fixed
        if role == "system" and not text:
            done.append("empty_system")
            continue
        messages.append(Message(role, text))
    return Example(messages, example.meta), sorted(set(done))


def _fix_mojibake(text: str) -> str:
    return content.fix_mojibake(text) if content.has_mojibake(text) else text


def _fix_markup(text: str) -> str:
    return content.strip_markup(text) if content.find_markup(text) else text


def _findings(example: Example, name: str, line: int,
              counter: TokenCounter | None) -> list[Finding]:
    found = content_findings(example, name, line) + message_findings(example, name, line)
    long = length_finding(counter, example, name, line)
    return found + ([long] if long else [])


def _reject_line(row: Row, name: str, reasons: list[Finding]) -> str:
    entry: dict[str, Any] = {"path": name, "line": row.line,
                             "reasons": [_reason(f) for f in reasons]}
    if row.obj is not None:
        entry["row"] = row.obj
    else:
        entry["raw"] = row.raw
    return json.dumps(entry, ensure_ascii=False)


def _reason(f: Finding) -> dict[str, Any]:
    reason: dict[str, Any] = {"check": f.check, "message": f.message}
    if f.related:
        reason["related"] = f.related
    return reason


def _kept_line(row: Row, example: Example) -> str:
    obj = dict(row.obj)
    obj["messages"] = [m.to_dict() for m in example.messages]
    return json.dumps(obj, ensure_ascii=False)


def eval_index(eval_path: str | Path | None) -> DedupIndex | None:
    """The eval rows indexed, so train rows that overlap them can be found."""
    if eval_path is None:
        return None
    index = DedupIndex()
    for row in iter_rows(eval_path):
        if row.example is not None:
            v = index.views([row.example])[0]
            index.insert(v, row.line)
    return index


def clean_path(path: str | Path, out: str | Path, rejects: str | Path,
               eval_path: str | Path | None = None, tokenizer=None,
               max_tokens: int = 2048, progress: bool = True) -> CleanReport:
    """Clean ``path`` into ``out`` and ``rejects``; every row lands in exactly one."""
    name = str(path)
    report = CleanReport(name, str(out), str(rejects))
    counter = TokenCounter(tokenizer, max_tokens) if tokenizer is not None else None
    evals, index = eval_index(eval_path), DedupIndex()
    kept_lines: list[str] = []
    reject_lines: list[str] = []
    for row in progress_rows(iter_rows(path), Path(path), progress):
        report.rows_in += 1
        line, reasons = _clean_row(row, name, counter, index, evals, str(eval_path), report)
        if reasons:
            reject_lines.append(_reject_line(row, name, reasons))
            report.rejected += 1
            report.reasons.update({f.check for f in reasons})
        else:
            kept_lines.append(line)
            report.kept += 1

    # both files are written whole and atomically: never a half-cleaned file
    atomic_write_text(out, "".join(s + "\n" for s in kept_lines))
    atomic_write_text(rejects, "".join(s + "\n" for s in reject_lines))
    return report


def _clean_row(row: Row, name: str, counter: TokenCounter | None, index: DedupIndex,
               evals: DedupIndex | None, eval_name: str,
               report: CleanReport) -> tuple[str, list[Finding]]:
    """(the kept line, []) or ("", the reasons to reject)."""
    if row.example is None:
        return "", [f for f in row.findings if f.severity == "error"] or row.findings
    example, done = repair(row.example, row)
    found = _findings(example, name, row.line, counter)
    reasons = [f for f in found if f.check in REJECT]
    if reasons:
        return "", reasons

    # duplicates of kept rows, then overlap with the eval file
    v = index.views([example])[0]
    dup = [f for f in _matches(index, v, name, row.line) if f.check in REJECT]
    if evals is not None:
        hit = evals.overlap(v)
        if hit:
            dup.append(Finding(name, row.line, "eval_overlap", "error",
                               hit.message.replace("this eval row", "this train row")
                               .replace("a train row", "an eval row"),
                               related={"path": eval_name, "line": hit.line}))
    if dup:
        return "", dup
    index.insert(v, row.line)
    if done:
        report.repaired += 1
        report.repairs.update(done)
    report.warnings.update({f.check for f in found})
    return _kept_line(row, example), []


def _matches(index: DedupIndex, v, name: str, line: int) -> list[Finding]:
    return [Finding(name, line, m.check, SEVERITY[m.check], m.message,
                    related={"path": name, "line": m.line}) for m in index.find(v)]
