"""The canonical example and the finding, the two types every stage shares.

An *example* is one dataset row: chat ``messages`` (role + content) plus
``meta`` (source path, 1-based source line, id). The source line travels with
the row from import to the rejects file, so every finding can name it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ROLES = ("system", "user", "assistant")

# Every check id `lorakit data check` can report, with what it means.
# This table is the one place they are documented (the README repeats it).
CHECKS: dict[str, str] = {
    "invalid_json": "the line is not valid JSON (or the file cannot be parsed)",
    "invalid_encoding": "the bytes are not valid UTF-8, or a broken decoding left junk "
                        "('ÿþ', U+FFFD, control characters)",
    "invalid_schema": "the row is valid JSON but not a chat example of the expected shape",
    "unknown_role": "a message has a role other than system/user/assistant",
    "empty_message": "a message has empty or whitespace-only content",
    "no_assistant_turn": "the conversation has no assistant message to learn from",
    "exact_duplicate": "the same conversation appears earlier in the file",
    "near_duplicate": "a nearly identical conversation appears earlier in the file",
    "conflicting_answers": "the same (or nearly the same) prompt has a different answer earlier",
    "pii": "a message contains personal data (email, phone, card number, IBAN, SSN, "
           "street address, public IP)",
    "mojibake": "text was decoded with the wrong encoding (e.g. 'cafÃ©')",
    "markup": "a message contains HTML or similar markup",
    "too_long": "the rendered conversation exceeds the training length limit",
    "eval_overlap": "an eval row duplicates or nearly duplicates a train row",
}


@dataclass
class Message:
    role: str
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass
class Example:
    messages: list[Message]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def line(self) -> int | None:
        return self.meta.get("line")

    @property
    def path(self) -> str | None:
        return self.meta.get("path")

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {"messages": [m.to_dict() for m in self.messages]}
        if self.meta:
            row["meta"] = dict(self.meta)
        return row

    def to_chat(self) -> list[dict[str, str]]:
        return [m.to_dict() for m in self.messages]

    @classmethod
    def from_dict(cls, row: dict[str, Any], meta: dict[str, Any] | None = None) -> "Example":
        """Build from an already validated canonical row (see data.schema for checks)."""
        messages = [Message(str(m["role"]), str(m["content"])) for m in row["messages"]]
        merged = dict(row.get("meta") or {})
        merged.update(meta or {})
        return cls(messages, merged)


@dataclass
class Finding:
    path: str
    line: int | None
    check: str
    severity: str  # "error" | "warning"
    message: str
    related: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.check not in CHECKS:
            raise ValueError(f"unknown check id {self.check!r}")
        if self.severity not in ("error", "warning"):
            raise ValueError(f"unknown severity {self.severity!r}")

    def to_dict(self) -> dict[str, Any]:
        row = asdict(self)
        if row["related"] is None:
            del row["related"]
        return row
