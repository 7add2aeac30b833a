"""The shape of a canonical row, checked: ``{"messages": [{"role", "content"}], "meta"}``.

``to_example`` never raises: it returns the Example (when the structure is
usable) and the findings (invalid_schema, unknown_role, empty_message,
no_assistant_turn). A row whose structure is fine but whose roles or contents
are wrong still gets an Example, so the later checks (duplicates, PII...) see it.
"""

from __future__ import annotations

from typing import Any

from lorakit.core.example import ROLES, Example, Finding, Message

# role names other tools use, and the canonical role each one means
ROLE_ALIASES = {
    "human": "user", "prompter": "user", "question": "user", "input": "user",
    "gpt": "assistant", "bot": "assistant", "model": "assistant", "chatgpt": "assistant",
    "ai": "assistant", "agent": "assistant", "customer": "user", "client": "user", "answer": "assistant", "output": "assistant", "response": "assistant",
    "developer": "system", "instruction": "system",
}


def canonical_role(role: str) -> str | None:
    """The canonical role a role name means ('Human' -> 'user'), or None."""
    low = role.strip().lower()
    return low if low in ROLES else ROLE_ALIASES.get(low)


def preview(value: Any, limit: int = 60) -> str:
    """A short, safe echo of a bad value (no recursion, no 30 MB strings)."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, dict):
        keys = ", ".join(repr(str(k))[:20] for k in list(value)[:5])
        text = "{" + keys + (", ..." if len(value) > 5 else "") + "}"
    elif isinstance(value, list):
        text = f"a list of {len(value)} item" + ("" if len(value) == 1 else "s")
    elif value is None or isinstance(value, bool):
        return "null" if value is None else str(value).lower()
    else:
        text = type(value).__name__ + " " + str(value)[:limit]
    text = text.replace("\n", "\\n")
    return repr(text) if len(text) <= limit else repr(text[: limit - 3] + "...")


def _err(path: str, line: int, check: str, message: str) -> Finding:
    return Finding(path, line, check, "error", message)


def _messages(obj: Any, path: str, line: int) -> tuple[list | None, Finding | None]:
    if not isinstance(obj, dict):
        kind = "a list" if isinstance(obj, list) else type(obj).__name__
        return None, _err(path, line, "invalid_schema",
                          f"expected an object with a 'messages' list, got {kind} "
                          f"{preview(obj)}")
    messages = obj.get("messages")
    if messages is None:
        hint = _format_hint(obj)
        return None, _err(path, line, "invalid_schema",
                          f"no 'messages' key (keys: {preview(obj)}){hint}")
    if not isinstance(messages, list) or not messages:
        return None, _err(path, line, "invalid_schema",
                          f"'messages' must be a non-empty list, got {preview(messages)}")
    return messages, None


def _format_hint(obj: dict) -> str:
    """Say which import format a non-canonical row looks like."""
    from lorakit.data.formats import detect_row

    fmt = detect_row(obj)
    return f"; it looks like {fmt}: run `lorakit data import --from {fmt}`" if fmt else ""


def _message(m: Any, i: int, path: str, line: int) -> tuple[Message | None, Finding | None]:
    if not isinstance(m, dict):
        return None, _err(path, line, "invalid_schema",
                          f"message {i + 1} must be an object, got {preview(m)}")
    role, content = m.get("role"), m.get("content")
    if not isinstance(role, str):
        return None, _err(path, line, "invalid_schema",
                          f"message {i + 1} needs a text 'role', got {preview(role)}")
    if not isinstance(content, str):
        return None, _err(path, line, "invalid_schema",
                          f"message {i + 1} needs a text 'content', got {preview(content)}")
    return Message(role, content), None


def to_example(obj: Any, path: str, line: int) -> tuple[Example | None, list[Finding]]:
    """Validate one parsed row; the Example is None only when the structure is broken."""
    messages, problem = _messages(obj, path, line)
    if problem:
        return None, [problem]
    out: list[Message] = []
    for i, m in enumerate(messages):
        message, problem = _message(m, i, path, line)
        if problem:
            return None, [problem]
        out.append(message)
    meta = obj.get("meta")
    if meta is not None and not isinstance(meta, dict):
        return None, [_err(path, line, "invalid_schema",
                           f"'meta' must be an object, got {preview(meta)}")]
    example = Example(out, {**(meta or {}), "path": path, "line": line})
    return example, content_findings(example, path, line)


def content_findings(example: Example, path: str, line: int) -> list[Finding]:
    """Roles, empty messages and the assistant turn of a structurally valid row."""
    findings = []
    for i, m in enumerate(example.messages):
        if m.role not in ROLES:
            alias = canonical_role(m.role)
            hint = f" (did you mean {alias!r}?)" if alias else ""
            findings.append(_err(path, line, "unknown_role",
                                 f"message {i + 1} has role {preview(m.role)}{hint}; "
                                 f"expected one of {', '.join(ROLES)}"))
        if not m.content.strip():
            findings.append(_err(path, line, "empty_message",
                                 f"message {i + 1} ({preview(m.role, 20)}) is empty"))
    # a row whose answer has a misspelt role is reported once, as unknown_role
    if not any(canonical_role(m.role) == "assistant" for m in example.messages):
        findings.append(_err(path, line, "no_assistant_turn",
                             "no assistant message: nothing to learn from this row"))
    return findings
