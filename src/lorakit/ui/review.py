"""Dataset review: accept, edit or reject rows without ever touching the source.

A review of ``data/raw.jsonl`` writes three files beside it (``N`` is the
first free version, 2 for a file never reviewed; reviewing ``raw.v2.jsonl``
writes ``raw.v3.*``):

- ``raw.vN.jsonl``: the new version. Every row that is not rejected, in source
  order; unchanged and accepted rows are copied byte for byte, edited rows are
  the edited JSON. It is rewritten (atomically) after every action.
- ``raw.vN.edits.jsonl``: the append-only edit log. Its first record names the
  source and its sha256; then one record per action (``time``, ``line``,
  ``action``, ``before``, ``after``, ``reason``).
- ``raw.vN.rejects.jsonl``: each rejected row as ``lorakit data clean`` writes
  rejects (``path``, ``line``, ``reasons`` from its findings, ``row`` or ``raw``)
  plus the reviewer's ``reason``; ``raw`` (the source text) is always there.

Starting a review again on the same, unchanged source resumes the latest
version by replaying its log; ``new_version=True`` starts a fresh one.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lorakit.core.errors import LorakitError, shorten
from lorakit.core.io import atomic_write_bytes, file_sha256

ACTIONS = ("accept", "edit", "reject", "reset")
_VERSION_RE = re.compile(r"^(?P<stem>.+)\.v(?P<n>\d+)$")


@dataclass(eq=False)  # rows are keyed by identity
class Row:
    """One non-blank source line and what the reviewer decided about it."""

    line: int
    raw: bytes
    original: Any  # parsed JSON, or None when the line is not valid JSON
    current: Any = None  # the edited JSON; None while the row is as in the source
    status: str = "unreviewed"  # unreviewed | accepted | edited | rejected
    utf8: bool = True  # False: the bytes were decoded as cp1252/latin-1 to show them
    reason: str | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    source_findings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def edited(self) -> bool:
        return self.current is not None

    def content(self) -> Any:
        """What the row is now: the edit, the parsed source, or its text."""
        if self.current is not None:
            return self.current
        return self.original if self.original is not None else self.text()

    def text(self) -> str:
        return _decode(self.raw)[0].rstrip("\r")

    def out_bytes(self) -> bytes:
        if self.current is None:
            return self.raw
        return json.dumps(self.current, ensure_ascii=False).encode("utf-8")

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "status": self.status, "reason": self.reason,
                "edited": self.edited, "text": self.text(), "original": self.original,
                "current": self.content(), "findings": self.findings,
                "source_findings": self.source_findings}


@dataclass
class VersionPaths:
    version: Path
    log: Path
    rejects: Path


def version_paths(source: Path, n: int) -> VersionPaths:
    """The three files of version ``n`` of ``source`` (see the module docstring)."""
    stem = _base_stem(source)
    version = source.with_name(f"{stem}.v{n}{source.suffix}")
    return VersionPaths(version, source.with_name(f"{stem}.v{n}.edits.jsonl"),
                        source.with_name(f"{stem}.v{n}.rejects.jsonl"))


def _base_stem(source: Path) -> str:
    match = _VERSION_RE.match(source.stem)
    return match["stem"] if match else source.stem


def _existing_versions(source: Path) -> list[int]:
    stem = re.escape(_base_stem(source))
    pattern = re.compile(rf"^{stem}\.v(\d+){re.escape(source.suffix)}$")
    found = [int(m[1]) for p in source.parent.iterdir() if (m := pattern.match(p.name))]
    logs = re.compile(rf"^{stem}\.v(\d+)\.edits\.jsonl$")
    found += [int(m[1]) for p in source.parent.iterdir() if (m := logs.match(p.name))]
    match = _VERSION_RE.match(source.stem)
    return sorted(set(found + ([int(match["n"])] if match else [1])))


def read_source(path: Path) -> list[Row]:
    """Every non-blank line, numbered as `lorakit data check` numbers them (1-based)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise LorakitError("file not found", path=path) from None
    except IsADirectoryError:
        raise LorakitError("is a folder, expected a JSONL file", path=path) from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    rows = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if raw.strip():
            text, utf8 = _decode(raw)
            rows.append(Row(number, raw, _parse(text), utf8=utf8))
    return rows


def _decode(raw: bytes) -> tuple[str, bool]:
    """The line's text as `data check` reads it (non-UTF-8 bytes as cp1252/latin-1)."""
    from lorakit.data.read import decode_line

    text, encoding, _ = decode_line(raw)
    return text, encoding == "utf-8"


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell() == 0:
            return True
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def _record(line: str) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class ReviewSession:
    """The state of one review of ``source``; every action is logged, then written."""

    def __init__(self, source: str | Path, new_version: bool = False, checker=None):
        self.source = Path(source).expanduser().resolve()
        self.rows = read_source(self.source)
        self.by_line = {r.line: r for r in self.rows}
        self.sha256 = file_sha256(self.source)
        self.checker = checker
        self.check_error: str | None = None
        self.lock = threading.Lock()

        # resume the latest version made from this exact source, else start the next
        latest = max(_existing_versions(self.source))
        resumable = self._log_matches(version_paths(self.source, latest).log)
        self.n = latest if resumable and not new_version else latest + 1
        self.paths = version_paths(self.source, self.n)
        if not os.access(self.source.parent, os.W_OK):
            raise LorakitError("cannot write the new version beside the source (folder is "
                               "read-only)", path=self.source.parent,
                               fix="copy the file into a writable folder and review "
                                   "the copy")
        self.resumed = bool(resumable and not new_version)

        # findings on the source as given, then the log replayed on top of them
        for row, found in self._check_all(initial=True).items():
            row.source_findings = found
            row.findings = found
        if self.resumed:
            self._replay()

    # --- reading the state -----------------------------------------------------

    def info(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row.status] = counts.get(row.status, 0) + 1
        return {"source": str(self.source), "source_sha256": self.sha256,
                "version": str(self.paths.version), "log": str(self.paths.log),
                "rejects": str(self.paths.rejects), "resumed": self.resumed,
                "rows": len(self.rows), "counts": counts, "check_error": self.check_error}

    def row(self, line: int) -> Row:
        try:
            return self.by_line[line]
        except KeyError:
            raise LorakitError(f"no row at line {line}", path=self.source) from None

    # --- acting ------------------------------------------------------------------

    def act(self, line: int, action: str, after: Any = None,
            reason: str | None = None) -> Row:
        """Apply one reviewer action, append it to the log and rewrite the outputs."""
        if action not in ACTIONS:
            raise LorakitError(f"unknown action {shorten(action)}",
                               fix=f"use one of {', '.join(ACTIONS)}")
        with self.lock:
            row = self.row(line)
            before = row.content()
            self._apply(row, action, after, reason)
            self._log({"time": _now(), "line": line, "action": action, "before": before,
                       "after": row.content() if action != "reject" else None,
                       "reason": reason})
            self._write_outputs()
            self._recheck()
            return row

    def _apply(self, row: Row, action: str, after: Any, reason: str | None) -> None:
        if action == "edit":
            if after is None:
                raise LorakitError("an edit needs the new row", fix="send {'row': {...}}")
            # saving a row read as cp1252 unchanged still re-writes it as UTF-8
            row.current = None if after == row.original and row.utf8 else after
            row.status = "edited" if row.current is not None else "accepted"
            row.reason = reason
        elif action == "accept":
            row.status, row.reason = "accepted", reason
        elif action == "reject":
            row.status = "rejected"
            row.reason = (reason or "").strip() or "rejected in review"
        else:  # reset: back to the source row, undecided
            row.current, row.status, row.reason = None, "unreviewed", None

    # --- files ---------------------------------------------------------------------

    def _log(self, record: dict[str, Any]) -> None:
        # append-only: the first action writes the header naming the source
        new = not self.paths.log.exists()
        torn = not new and not _ends_with_newline(self.paths.log)
        with self.paths.log.open("a", encoding="utf-8") as fh:
            if torn:  # a crash left half a record: start ours on a line of its own
                fh.write("\n")
            if new:
                fh.write(json.dumps({"time": _now(), "line": None, "action": "open",
                                     "source": str(self.source),
                                     "source_sha256": self.sha256,
                                     "version": str(self.paths.version)}) + "\n")
            fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def _log_matches(self, log: Path) -> bool:
        try:
            with log.open(encoding="utf-8") as fh:
                head = json.loads(fh.readline())
        except (OSError, ValueError):
            return False
        return head.get("source") == str(self.source) and \
            head.get("source_sha256") == self.sha256

    def _replay(self) -> None:
        with self.paths.log.open(encoding="utf-8") as fh:
            records = [_record(line) for line in fh if line.strip()]
        # a torn last record (a crash mid-write) is skipped: its action never completed
        for rec in filter(None, records[1:]):
            row = self.by_line.get(rec.get("line"))
            if row is not None and rec.get("action") in ACTIONS:
                self._apply(row, rec["action"], rec.get("after"), rec.get("reason"))
        self._recheck()

    def _write_outputs(self) -> None:
        kept = [r.out_bytes() for r in self.rows if r.status != "rejected"]
        atomic_write_bytes(self.paths.version, b"".join(b + b"\n" for b in kept))
        # the same shape as `lorakit data clean --rejects`, plus the reviewer's reason
        rejects = [json.dumps(self._reject_record(r), ensure_ascii=False, default=str)
                   for r in self.rows if r.status == "rejected"]
        atomic_write_bytes(self.paths.rejects,
                           "".join(line + "\n" for line in rejects).encode("utf-8"))

    def _reject_record(self, row: Row) -> dict[str, Any]:
        keys = ("check", "message", "related")
        reasons = [{k: f[k] for k in keys if k in f} for f in row.findings]
        record: dict[str, Any] = {"path": str(self.source), "line": row.line,
                                  "reason": row.reason, "reasons": reasons}
        if row.original is not None or row.edited:
            record["row"] = row.content()
        record["raw"] = row.text()
        return record

    # --- findings --------------------------------------------------------------------

    def _check_all(self, initial: bool = False) -> dict[Row, list[dict[str, Any]]]:
        """Findings per row. The rows are laid out at their source line numbers
        (rejected rows blanked) so every finding names the source line."""
        if self.checker is None:
            return {}
        try:
            found = self.checker(self.source) if initial else self._check_current()
            self.check_error = None
        except Exception as exc:  # noqa: BLE001 - a failing check must not stop the review
            self.check_error = f"data check failed ({type(exc).__name__}: {exc})"
            return {}
        out: dict[Row, list[dict[str, Any]]] = {r: [] for r in self.rows
                                                if r.status != "rejected"}
        for finding in found:
            row = self.by_line.get(finding.get("line"))
            if row is not None and row in out:
                out[row].append(_name_source(finding, str(self.source)))
        return out

    def _check_current(self) -> list[dict[str, Any]]:
        lines = [b""] * (max((r.line for r in self.rows), default=0))
        for r in self.rows:
            if r.status != "rejected":
                lines[r.line - 1] = r.out_bytes()
        fd, tmp = tempfile.mkstemp(suffix=self.source.suffix, prefix=".lorakit-review-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(b"\n".join(lines) + b"\n")
            return self.checker(Path(tmp))
        finally:
            os.unlink(tmp)

    def _recheck(self) -> None:
        """Findings on the rows as they are now (edits included, rejected rows left out)."""
        for row, found in self._check_all().items():
            row.findings = found
        for row in self.rows:
            if row.status == "rejected":
                row.findings = row.findings or row.source_findings


def _name_source(finding: dict[str, Any], source: str) -> dict[str, Any]:
    """A finding on the scratch copy, re-pointed at the source file."""
    checked = finding.get("path")
    finding["path"] = source
    related = finding.get("related")
    if isinstance(related, dict) and related.get("path") == checked:
        finding["related"] = {**related, "path": source}
    return finding


def default_checker(tokenizer=None, max_tokens: int = 2048):
    """``lorakit data check`` as a function of a path, or None where it is not installed."""
    try:
        from lorakit.data.check import check_path
    except ImportError:
        return None

    def check(path: Path) -> list[dict[str, Any]]:
        report = check_path(path, tokenizer=tokenizer, max_tokens=max_tokens,
                            progress=False)
        return [f.to_dict() for f in report.findings]

    return check
