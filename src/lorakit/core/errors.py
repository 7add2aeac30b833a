"""User-facing errors.

A ``LorakitError`` is a problem with what the user gave (a file, a flag, a
model id). The CLI prints it as one readable message and exits with its
``exit_code``; it never shows a traceback for one.
"""

from __future__ import annotations

import difflib
from pathlib import Path


class LorakitError(Exception):
    """A problem the user can fix; ``str()`` says what and how."""

    exit_code = 1

    def __init__(self, message: str, *, path: str | Path | None = None,
                 line: int | None = None, fix: str | None = None):
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        where = ""
        if self.path:
            where = self.path + (f":{self.line}" if self.line else "") + ": "
        text = where + self.message
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text


class UsageError(LorakitError):
    """Bad flags or config: exit code 2, as for a command-line usage problem."""

    exit_code = 2


def closest(name: str, choices: list[str] | tuple[str, ...]) -> str | None:
    """The valid name closest to ``name``, or None when nothing is near."""
    found = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return found[0] if found else None


def shorten(value: object, limit: int = 60) -> str:
    """A bad value echoed back in an error, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
