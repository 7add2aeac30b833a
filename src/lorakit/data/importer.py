"""`lorakit data import`: any supported source file -> canonical chat JSONL.

Sources are JSONL (one record a line), a JSON array, or CSV/TSV. Each output
row is ``{"messages": [...], "meta": {...}}``; its meta keeps every field the
format did not use and ``source`` (path, line, format), so a finding on the
imported file can be traced to the raw one. A record that cannot be converted
is not written; it is reported with its line (and written to ``rejects``).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from lorakit.core.errors import UsageError, closest
from lorakit.core.example import Finding
from lorakit.core.io import atomic_write_text
from lorakit.data.formats import CONVERTERS, FORMATS, MAP_TARGETS, ConvertError, detect_row
from lorakit.data.read import decode_line, iter_lines, open_source, parse_json
from lorakit.data.schema import preview

Record = tuple[int, Any, Finding | None]  # (line, parsed record or None, problem)


@dataclass
class ImportReport:
    src: str
    out: str
    format: str
    rows_in: int = 0
    imported: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return self.rows_in - self.imported

    def to_dict(self) -> dict[str, Any]:
        return {"src": self.src, "out": self.out, "format": self.format,
                "rows_in": self.rows_in, "imported": self.imported, "failed": self.failed,
                "findings": [f.to_dict() for f in self.findings]}


def _jsonl_records(path: Path) -> Iterator[Record]:
    name = str(path)
    for line, data in iter_lines(path):
        text, _, problem = decode_line(data)
        if problem:
            yield line, None, Finding(name, line, "invalid_encoding", "error", problem)
            continue
        obj, reason = parse_json(text)
        if reason:
            yield line, None, Finding(name, line, "invalid_json", "error",
                                      f"not valid JSON: {reason} ({preview(text)})")
        else:
            yield line, obj, None


def _read_text(path: Path) -> str:
    with open_source(path) as fh:
        data = fh.read()
    return decode_line(data[3:] if data.startswith(b"\xef\xbb\xbf") else data)[0]


def _array_records(path: Path) -> Iterator[Record]:
    """Elements of a top-level JSON array, each with the line it starts on."""
    text, name = _read_text(path), str(path)
    obj, reason = parse_json(text)
    if reason or not isinstance(obj, list):
        yield 1, None, Finding(name, 1, "invalid_json", "error",
                               f"expected a JSON array of records: {reason or preview(obj)}")
        return
    # find where each element starts, to name its line
    decoder, pos, starts = json.JSONDecoder(), text.index("[") + 1, []
    for _ in obj:
        while text[pos] in " \t\r\n,":
            pos += 1
        starts.append(text.count("\n", 0, pos) + 1)
        pos = decoder.raw_decode(text, pos)[1]
    yield from ((line, item, None) for line, item in zip(starts, obj))


def _csv_records(path: Path) -> Iterator[Record]:
    text = _read_text(path)
    csv.field_size_limit(1 << 30)
    dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
    start = 2
    try:
        for row in reader:
            yield start, dict(row), None
            start = reader.line_num + 1
    except csv.Error as exc:
        yield start, None, Finding(str(path), start, "invalid_schema", "error",
                                   f"not valid CSV: {exc}")


def records(path: str | Path, fmt: str | None = None) -> Iterator[Record]:
    """The records of a source file: as ``fmt`` says (csv, jsonl), else by its extension.

    By extension: .csv/.tsv as CSV, .json holding an array as a JSON array, else JSONL.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if fmt == "jsonl":
        return _jsonl_records(path)
    if fmt == "csv" or suffix in (".csv", ".tsv"):
        return _csv_records(path)
    if suffix == ".json":
        with open_source(path) as fh:
            head = fh.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
        if head.startswith(b"["):
            return _array_records(path)
    return _jsonl_records(path)


def parse_mapping(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``["article=user", "summary=assistant"]`` -> a column -> role mapping."""
    mapping = {}
    for pair in pairs:
        column, sep, role = pair.partition("=")
        role = role.strip().lower()
        if not sep or not column:
            raise UsageError(f"--map expects COLUMN=ROLE, got {pair!r}",
                             fix="e.g. --map article=user --map summary=assistant")
        if role not in MAP_TARGETS:
            near = closest(role, MAP_TARGETS)
            raise UsageError(f"--map {pair!r}: {role!r} is not one of {', '.join(MAP_TARGETS)}"
                             + (f"; did you mean {near!r}?" if near else ""))
        mapping[column.strip()] = role
    return mapping


def detect(path: str | Path, mapping: dict[str, str] | None) -> str:
    """The format of a source file, from its first record that parses."""
    if mapping:
        return "columns"
    for _, obj, _ in records(path):
        if obj is not None:
            fmt = detect_row(obj)
            if fmt:
                return fmt
            raise UsageError(f"cannot tell the format of {path} from its first record "
                             f"(keys: {preview(obj)})",
                             fix=f"pass --from ({', '.join(FORMATS)}), or --map COLUMN=ROLE")
    raise UsageError(f"{path} has no record to import", fix="check the file is not empty")


def import_path(src: str | Path, out: str | Path, fmt: str | None = None,
                mapping: dict[str, str] | None = None, system: str | None = None,
                rejects: str | Path | None = None) -> ImportReport:
    """Convert ``src`` to canonical JSONL at ``out``; unconvertible records are reported."""
    if fmt is not None and fmt not in FORMATS:
        near = closest(fmt, FORMATS)
        raise UsageError(f"unknown format {fmt!r}" + (f"; did you mean {near!r}?" if near else ""),
                         fix=f"use one of {', '.join(FORMATS)}")
    if fmt in ("columns", "csv", "jsonl") and not mapping:
        raise UsageError(f"--from {fmt} needs a column mapping",
                         fix="add --map COLUMN=ROLE, e.g. --map article=user "
                             "--map summary=assistant")
    fmt = fmt or detect(src, mapping)
    report = ImportReport(str(src), str(out), fmt)
    convert, lines, bad = CONVERTERS[fmt], [], []
    for line, obj, problem in records(src, fmt):
        report.rows_in += 1
        if problem is None:
            try:
                messages, meta = convert(obj, mapping=mapping, system=system)
            except ConvertError as exc:
                problem = Finding(str(src), line, "invalid_schema", "error",
                                  f"not a {fmt} record: {exc}")
        if problem is not None:
            report.findings.append(problem)
            bad.append(json.dumps({"line": line, "reason": problem.message,
                                   "record": obj}, ensure_ascii=False, default=str))
            continue
        if isinstance(meta.get("meta"), dict):  # a canonical row's own meta stays flat
            meta = {**meta.pop("meta"), **meta}
        meta["source"] = {"path": str(src), "line": line, "format": fmt}
        lines.append(json.dumps({"messages": messages, "meta": meta}, ensure_ascii=False,
                                default=str))
        report.imported += 1
    atomic_write_text(out, "".join(s + "\n" for s in lines))
    if rejects is not None:
        atomic_write_text(rejects, "".join(s + "\n" for s in bad))
    return report
