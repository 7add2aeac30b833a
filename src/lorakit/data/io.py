"""Reading and writing canonical JSONL (one chat example a line).

``load_examples`` is what train and eval call: it accepts only rows that are
valid canonical examples and raises one clear error naming the first bad line
otherwise (run ``lorakit data check`` to see every problem at once).
"""

from __future__ import annotations

import json
from pathlib import Path

from lorakit.core.errors import LorakitError, shorten
from lorakit.core.example import ROLES, Example, Message
from lorakit.data.read import iter_lines


def load_examples(path: str | Path) -> list[Example]:
    """Canonical rows of a JSONL file; the first bad line raises one clear error.

    Lines are read as `data check` reads them (BOM, CRLF, blank lines, 1-based
    numbers), so the line an error names is the line check reports.
    """
    path = Path(path)
    examples = []
    for number, line in iter_lines(path):
        fix = f"run `lorakit data check {path}` to see every problem"
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            raise LorakitError("not valid UTF-8", path=path, line=number, fix=fix) from None
        try:
            row = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise LorakitError(f"not valid JSON ({exc})", path=path, line=number, fix=fix) from None
        examples.append(_to_example(row, path, number, fix))
    return examples


def _to_example(row, path: Path, number: int, fix: str) -> Example:
    messages = row.get("messages") if isinstance(row, dict) else None
    if not isinstance(messages, list) or not messages:
        raise LorakitError(f"expected an object with a 'messages' list, got {shorten(row)}",
                           path=path, line=number, fix=fix)
    out = []
    for m in messages:
        if not (isinstance(m, dict) and isinstance(m.get("role"), str)
                and isinstance(m.get("content"), str)):
            raise LorakitError(f"a message must be {{'role': str, 'content': str}}, got "
                               f"{shorten(m)}", path=path, line=number, fix=fix)
        if m["role"] not in ROLES:
            raise LorakitError(f"unknown role {m['role']!r} (expected {', '.join(ROLES)})",
                               path=path, line=number, fix=fix)
        out.append(Message(m["role"], m["content"]))
    meta = dict(row.get("meta") or {}) if isinstance(row.get("meta"), dict) else {}
    meta.update({"path": str(path), "line": number})
    return Example(out, meta)


def write_examples(path: str | Path, examples: list[Example]) -> None:
    from lorakit.core.io import atomic_write_text

    lines = [json.dumps(e.to_dict(), ensure_ascii=False) for e in examples]
    atomic_write_text(path, "\n".join(lines) + ("\n" if lines else ""))
