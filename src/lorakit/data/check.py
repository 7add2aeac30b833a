"""`lorakit data check`: every problem in a dataset, each a finding with its line.

One pass over the file in order: parsing and shape (read.py, schema.py), the
text of each message (content.py), the length through the base's chat
template (tokens.py), then duplicates and conflicts against the rows before
it (dedup.py). With an eval file, its rows are checked the same way and each
is also compared with the train rows (``eval_overlap``).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from tqdm import tqdm

from lorakit.core.example import CHECKS, Example, Finding
from lorakit.data import content
from lorakit.data.dedup import DedupIndex, Match, Views
from lorakit.data.read import Row, count_lines, is_utf16, iter_lines, open_source, parse_row
from lorakit.data.tokens import TokenCounter

# Errors make a row unfit to train on as it is (`data clean` rejects it unless
# it can repair it); warnings are worth a look. See docs/data.md.
SEVERITY: dict[str, str] = {
    "invalid_json": "error", "invalid_encoding": "error", "invalid_schema": "error",
    "unknown_role": "error", "empty_message": "error", "no_assistant_turn": "error",
    "exact_duplicate": "error", "near_duplicate": "warning",
    "conflicting_answers": "error", "pii": "error", "mojibake": "warning",
    "markup": "warning", "too_long": "error", "eval_overlap": "error",
}
assert set(SEVERITY) == set(CHECKS), "every check id needs a severity"


def message_findings(example: Example, path: str, line: int,
                     encoding_reported: bool = False) -> list[Finding]:
    """pii, mojibake, markup and junk characters: at most one finding per check for a row.

    Junk left by a broken decoding (U+FFFD, 'ÿþ', control characters) is an
    ``invalid_encoding`` error, unless the row's bytes were already reported
    as not UTF-8 (``encoding_reported``): one finding says it then.
    """
    hits: dict[str, list[str]] = {}
    for i, m in enumerate(example.messages, start=1):
        junk = None if encoding_reported else content.find_junk(m.content)
        if junk:
            hits.setdefault("invalid_encoding", []).append(f"message {i}: {junk}")
        for kind in content.find_pii(m.content):
            hits.setdefault("pii", []).append(f"{kind} in message {i} ({m.role[:20]})")
        bad = content.has_mojibake(m.content)
        if bad:
            hits.setdefault("mojibake", []).append(f"message {i}: {bad}")
        tag = content.find_markup(m.content)
        if tag:
            hits.setdefault("markup", []).append(f"message {i}: {tag!r}")
    return [Finding(path, line, check, SEVERITY[check], "; ".join(found[:3])
                    + (f" (+{len(found) - 3} more)" if len(found) > 3 else ""))
            for check, found in hits.items()]


def length_finding(counter: TokenCounter | None, example: Example, path: str,
                   line: int) -> Finding | None:
    """too_long when the rendered conversation is over the limit."""
    if counter is None:
        return None
    try:
        count = counter.too_long(example)
    except Exception:  # noqa: BLE001 - a template that rejects the row: other checks say why
        return None
    if count is None:
        return None
    amount = f"{count.tokens}" if count.exact else f"at least {count.tokens}"
    return Finding(path, line, "too_long", SEVERITY["too_long"],
                   f"{amount} tokens rendered, over the limit of {counter.max_tokens} "
                   "(--max-tokens to change it)")


def match_finding(match: Match, path: str, line: int, related_path: str) -> Finding:
    return Finding(path, line, match.check, SEVERITY[match.check], match.message,
                   related={"path": related_path, "line": match.line})


@dataclass
class CheckReport:
    """What `data check` found; ``to_dict`` is its ``--format json`` output."""

    path: str
    rows: int
    findings: list[Finding] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "findings": [f.to_dict() for f in self.findings],
                "summary": self.summary}


def progress_rows(items: Iterator, path: Path, show: bool) -> Iterator:
    if not show or not sys.stderr.isatty():
        return items
    return tqdm(items, total=count_lines(path), unit=" rows", desc=f"checking {path.name}",
                mininterval=0.5, leave=False)


@dataclass
class Prepared:
    """A row with the findings and views that need no other row."""

    row: Row
    views: Views | None
    findings: list[Finding]


_SIGNER: DedupIndex | None = None


def prepare_chunk(job: tuple[str, list[tuple[int, bytes]], bool]) -> list[Prepared]:
    """Parse, check the text of, and sign a chunk of lines (runs in a worker, too)."""
    global _SIGNER
    name, items, utf16 = job
    _SIGNER = _SIGNER or DedupIndex()
    rows = [parse_row(name, number, data, utf16) for number, data in items]
    usable = [r for r in rows if r.example is not None]
    views = dict(zip((r.line for r in usable), _SIGNER.views([r.example for r in usable])))
    out = []
    for r in rows:
        found = list(r.findings)
        if r.example is not None:
            found += message_findings(r.example, name, r.line, r.encoding != "utf-8")
        r.obj, r.raw = None, ""  # not needed by check; lighter to send back
        out.append(Prepared(r, views.get(r.line), found))
    return out


def _jobs(path: Path, size: int = 1000) -> Iterator[tuple[str, list[tuple[int, bytes]], bool]]:
    utf16 = is_utf16(path)
    chunk: list[tuple[int, bytes]] = []
    for item in iter_lines(path):
        chunk.append(item)
        if len(chunk) == size:
            yield str(path), chunk, utf16
            chunk = []
    if chunk:
        yield str(path), chunk, utf16


def workers_for(path: Path) -> int:
    """Worker processes for a file: 1 unless LORAKIT_WORKERS says more.

    Measured on 100k rows (benchmarks/dedup_bench.py): sending rows and their
    views between processes costs more CPU than the per-row work it spreads
    (47 CPU-s with 2 workers against 28 with 1), so one process is the default.
    """
    env = os.environ.get("LORAKIT_WORKERS")
    if env and env.isdigit():
        return max(1, int(env))
    return 1


def iter_prepared(path: Path, workers: int = 1) -> Iterator[Prepared]:
    """Prepared rows in file order; the per-row work spread over ``workers`` processes."""
    jobs = _jobs(path)
    if workers <= 1:
        for job in jobs:
            yield from prepare_chunk(job)
        return
    # spawn, not fork: the parent may hold tokenizer threads that fork would copy
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for chunk in pool.imap(prepare_chunk, jobs):
            yield from chunk


def check_rows(path: str | Path, index: DedupIndex, counter: TokenCounter | None,
               train: DedupIndex | None = None, train_path: str | None = None,
               progress: bool = True, workers: int | None = None) -> tuple[int, list[Finding]]:
    """Check one file in order; with ``train``, also flag rows that overlap it."""
    path = Path(path)
    name = str(path)
    open_source(path).close()  # a bad path fails here, in one clear line
    findings: list[Finding] = []
    rows = 0
    workers = workers_for(path) if workers is None else workers
    for item in progress_rows(iter_prepared(path, workers), path, progress):
        rows += 1
        findings.extend(item.findings)
        if item.row.example is not None:
            findings.extend(row_findings(item.row, item.views, index, counter, name,
                                         train, train_path))
    if rows == 0:
        findings.append(Finding(name, 1, "invalid_schema", "error",
                                "the file has no rows (it is empty or blank)"))
    return rows, findings


def row_findings(row: Row, v, index: DedupIndex, counter: TokenCounter | None, name: str,
                 train: DedupIndex | None, train_path: str | None) -> list[Finding]:
    """The length and duplicate findings of one parsed row (then index it)."""
    ex = row.example
    found = []
    long = length_finding(counter, ex, name, row.line)
    if long:
        found.append(long)

    # duplicates and conflicts with earlier rows, then overlap with train
    found.extend(match_finding(m, name, row.line, name) for m in index.find(v))
    index.insert(v, row.line)
    if train is not None:
        hit = train.overlap(v)
        if hit:
            found.append(match_finding(hit, name, row.line, train_path or ""))
    return found


def check_path(path: str | Path, eval_path: str | Path | None = None, tokenizer=None,
               max_tokens: int = 2048, progress: bool = True,
               workers: int | None = None) -> CheckReport:
    """Check a dataset (and optionally its eval file); never raises on the contents.

    ``tokenizer`` is the base's tokenizer for ``too_long``; without one that
    check is skipped (the summary lists it under ``skipped``). ``workers``:
    processes for the per-row work (default: 1, or LORAKIT_WORKERS).
    """
    counter = TokenCounter(tokenizer, max_tokens) if tokenizer is not None else None
    train = DedupIndex()
    rows, findings = check_rows(path, train, counter, progress=progress, workers=workers)
    eval_rows = 0
    if eval_path is not None:
        eval_rows, more = check_rows(eval_path, DedupIndex(), counter, train=train,
                                     train_path=str(path), progress=progress,
                                     workers=workers)
        findings.extend(more)
    report = CheckReport(str(path), rows, findings)
    report.summary = summarize(report, eval_path, eval_rows, counter)
    return report


def summarize(report: CheckReport, eval_path, eval_rows: int,
              counter: TokenCounter | None) -> dict[str, Any]:
    """Counts by check and severity, and how many rows are fine as they are."""
    by_check = Counter(f.check for f in report.findings)
    bad_rows = {(f.path, f.line) for f in report.findings if f.severity == "error"}
    return {
        "path": report.path, "eval_path": str(eval_path) if eval_path else None,
        "eval_rows": eval_rows, "errors": report.errors, "warnings": report.warnings,
        "rows_with_errors": len(bad_rows),
        "by_check": {c: {"severity": SEVERITY[c], "count": by_check[c]}
                     for c in CHECKS if by_check[c]},
        "max_tokens": counter.max_tokens if counter else None,
        "skipped": [] if counter else ["too_long"],
    }
