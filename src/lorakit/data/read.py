"""Reading a JSONL file row by row without ever raising on what is inside it.

Every non-blank source line becomes one ``Row``: its 1-based line number, the
raw text, the parsed object (or None), the canonical ``Example`` (or None) and
the findings parsing produced. A hostile file (random bytes, truncated or
deeply nested JSON, a 30 MB line, a BOM, CRLF endings) yields findings that
name the line, never an exception. Only problems with the path itself (not
found, a folder, unreadable) raise a ``LorakitError``.
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from lorakit.core.errors import LorakitError
from lorakit.core.example import Example, Finding
from lorakit.data.schema import preview, to_example

BOMS = {b"\xef\xbb\xbf": "utf-8", b"\xff\xfe": "utf-16", b"\xfe\xff": "utf-16"}


@dataclass
class Row:
    """One non-blank source line and what parsing made of it."""

    line: int
    raw: str  # the line's text (decoded best-effort, CR and BOM removed)
    obj: Any = None  # the parsed JSON value, None when it did not parse
    example: Example | None = None  # None when the row is not a usable example
    findings: list[Finding] = field(default_factory=list)
    encoding: str = "utf-8"  # "cp1252"/"latin-1" when the bytes were not UTF-8

    @property
    def ok(self) -> bool:
        """True when parsing found no error (warnings do not count)."""
        return self.example is not None and not any(
            f.severity == "error" for f in self.findings)


def open_source(path: str | Path):
    """Open a data file for binary reading, with one clear error for a bad path."""
    path = Path(path)
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise LorakitError("file not found", path=path,
                           fix="check the path (run `ls` on its folder)") from None
    except IsADirectoryError:
        raise LorakitError("is a folder, expected a JSONL file", path=path) from None
    except PermissionError:
        raise LorakitError("cannot read the file (permission denied)", path=path) from None


def _legacy_bytes(exc: UnicodeError) -> tuple[str, int]:
    """Decode error handler: read the bytes that are not UTF-8 as cp1252 (else latin-1)."""
    chunk = exc.object[exc.start:exc.end]
    try:
        return chunk.decode("cp1252"), exc.end
    except UnicodeDecodeError:
        return chunk.decode("latin-1"), exc.end


codecs.register_error("lorakit-legacy", _legacy_bytes)


def decode_line(data: bytes) -> tuple[str, str, str | None]:
    """Decode one line: (text, encoding used, problem or None).

    Bytes that are not UTF-8 are read as cp1252, the usual culprit (latin-1
    when cp1252 has no such byte), while the valid UTF-8 around them stays as
    it is; so the row can still be checked and ``data clean`` can repair it.
    """
    try:
        return data.decode("utf-8"), "utf-8", None
    except UnicodeDecodeError as exc:
        bad = data[exc.start:exc.start + 4].hex(" ")
        problem = f"not valid UTF-8 (bytes {bad} at column {exc.start + 1}); read as cp1252"
    return data.decode("utf-8", errors="lorakit-legacy"), "cp1252", problem


def parse_json(text: str) -> tuple[Any, str | None]:
    """Parse one JSON value: (value, None) or (None, a readable reason)."""
    try:
        return json.loads(text), None
    except RecursionError:
        return None, "nested too deeply to parse"
    except json.JSONDecodeError as exc:
        return None, f"{exc.msg} (column {exc.colno})"
    except ValueError as exc:  # e.g. a number too large to convert
        return None, str(exc)[:120]


def iter_lines(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, bytes without the line ending) for non-blank lines."""
    with open_source(path) as fh:
        for number, data in enumerate(fh, start=1):
            if number == 1:
                for bom in BOMS:
                    if data.startswith(bom):
                        data = data[len(bom):]
                        break
            data = data.rstrip(b"\r\n")
            if data.strip():
                yield number, data


def iter_rows(path: str | Path) -> Iterator[Row]:
    """Every non-blank line of a canonical JSONL file, parsed and validated."""
    path = Path(path)
    name = str(path)
    utf16 = is_utf16(path)
    for number, data in iter_lines(path):
        yield parse_row(name, number, data, utf16)


def parse_row(name: str, number: int, data: bytes, utf16: bool = False) -> Row:
    """One line's bytes -> a Row with its findings."""
    if utf16:  # NUL-padded text decodes as "UTF-8"; say what is really wrong
        row = Row(number, data.decode("latin-1"), encoding="utf-16")
        row.findings.append(Finding(name, number, "invalid_encoding", "error",
                                    "the file is UTF-16; save it as UTF-8"))
        return row
    text, encoding, problem = decode_line(data)
    row = Row(number, text, encoding=encoding)
    if problem:
        row.findings.append(Finding(name, number, "invalid_encoding", "error", problem))

    # parse, then validate the shape of a canonical chat row
    obj, reason = parse_json(text)
    if reason is not None:
        row.findings.append(Finding(name, number, "invalid_json", "error",
                                    f"not valid JSON: {reason} ({preview(text)})"))
        return row
    row.obj = obj
    example, findings = to_example(obj, name, number)
    row.example = example
    row.findings.extend(findings)
    return row


def is_utf16(path: str | Path) -> bool:
    """True when the file starts with a UTF-16 byte order mark."""
    with open_source(path) as fh:
        return fh.read(2) in (b"\xff\xfe", b"\xfe\xff")


def count_lines(path: str | Path) -> int:
    """Number of lines in the file (for progress bars)."""
    with open_source(path) as fh:
        return sum(1 for _ in fh)
