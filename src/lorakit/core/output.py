"""Printing results: text for a person, or one JSON object for a script."""

from __future__ import annotations

import json
import sys
from typing import Any


def emit_json(obj: Any, stream=None) -> None:
    stream = stream or sys.stdout
    json.dump(obj, stream, indent=2, ensure_ascii=False, default=str)
    stream.write("\n")


def table(rows: list[list[Any]], header: list[str]) -> str:
    """A plain aligned text table."""
    cells = [[str(c) for c in header]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)
