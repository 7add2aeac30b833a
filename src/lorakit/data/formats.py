"""Source formats `data import` reads, each turned into canonical chat messages.

=================  ==========================================================
alpaca             ``{"instruction", "input", "output"}`` (+ optional system)
sharegpt           ``{"conversations": [{"from": "human"|"gpt"|..., "value"}]}``
openai             ``{"messages": [{"role", "content"}]}`` (content may be parts)
prompt_completion  ``{"prompt", "completion"}`` (text, or lists of messages)
columns            CSV or JSONL with ``--map column=role`` (user/assistant/system/meta)
csv, jsonl         aliases of ``columns`` that also say how to read the file
=================  ==========================================================

A converter takes one parsed record and returns ``(messages, meta)`` or raises
``ConvertError`` with a readable reason; fields it does not use go to meta.
"""

from __future__ import annotations

from typing import Any, Callable

from lorakit.data.schema import canonical_role, preview

FORMATS = ("alpaca", "sharegpt", "openai", "prompt_completion", "columns", "csv", "jsonl")
# names that mean "flat records with a column mapping", read as CSV or JSONL
COLUMN_ALIASES = {"csv": "columns", "jsonl": "columns"}
MAP_TARGETS = ("system", "user", "assistant", "meta")

Messages = list[dict[str, str]]


class ConvertError(ValueError):
    """A record that cannot be turned into a chat example (the reason is the text)."""


def detect_row(obj: Any) -> str | None:
    """The format a parsed record looks like, or None."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("messages"), list):
        return "openai"
    if isinstance(obj.get("conversations"), list):
        return "sharegpt"
    if "instruction" in obj and ("output" in obj or "response" in obj):
        return "alpaca"
    if "prompt" in obj and "completion" in obj:
        return "prompt_completion"
    return None


def _text(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ConvertError(f"{what} must be text, got {preview(value)}")


def _need(obj: Any, *keys: str) -> None:
    if not isinstance(obj, dict):
        raise ConvertError(f"expected an object, got {preview(obj)}")
    missing = [k for k in keys if k not in obj]
    if missing:
        raise ConvertError(f"missing {', '.join(map(repr, missing))} (keys: {preview(obj)})")


def _rest(obj: dict, used: set[str]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in used}


def alpaca(obj: Any, **_: Any) -> tuple[Messages, dict]:
    _need(obj, "instruction")
    answer_key = "output" if "output" in obj else "response"
    _need(obj, answer_key)
    user = _text(obj["instruction"], "'instruction'")
    extra = _text(obj.get("input"), "'input'")
    if extra.strip():
        user = f"{user}\n\n{extra}"
    messages = [{"role": "user", "content": user},
                {"role": "assistant", "content": _text(obj[answer_key], repr(answer_key))}]
    if obj.get("system"):
        messages.insert(0, {"role": "system", "content": _text(obj["system"], "'system'")})
    return messages, _rest(obj, {"instruction", "input", answer_key, "system"})


def _parts(content: Any, what: str) -> str:
    """OpenAI content: text, or a list of parts of which the text ones are joined."""
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                texts.append(_text(part.get("text"), what))
            elif isinstance(part, str):
                texts.append(part)
            else:
                raise ConvertError(f"{what} has a non-text part {preview(part)} "
                                   "(images and audio are not supported)")
        return "\n".join(texts)
    return _text(content, what)


def _turns(items: Any, role_key: str, text_key: str, what: str) -> Messages:
    if not isinstance(items, list) or not items:
        raise ConvertError(f"{what} must be a non-empty list, got {preview(items)}")
    out = []
    for i, m in enumerate(items, start=1):
        if not isinstance(m, dict):
            raise ConvertError(f"{what} item {i} must be an object, got {preview(m)}")
        rk = role_key if role_key in m else "role"
        tk = text_key if text_key in m else "content"
        if rk not in m or tk not in m:
            raise ConvertError(f"{what} item {i} needs {role_key!r} and {text_key!r}, "
                               f"got {preview(m)}")
        role = _text(m[rk], f"{what} item {i} role")
        if m.get("tool_calls") or role in ("tool", "function"):
            raise ConvertError(f"{what} item {i} is a tool call (not supported)")
        out.append({"role": canonical_role(role) or role,
                    "content": _parts(m[tk], f"{what} item {i} content")})
    return out


def openai(obj: Any, **_: Any) -> tuple[Messages, dict]:
    _need(obj, "messages")
    return _turns(obj["messages"], "role", "content", "'messages'"), _rest(obj, {"messages"})


def sharegpt(obj: Any, **_: Any) -> tuple[Messages, dict]:
    _need(obj, "conversations")
    messages = _turns(obj["conversations"], "from", "value", "'conversations'")
    if obj.get("system"):
        messages.insert(0, {"role": "system", "content": _text(obj["system"], "'system'")})
    return messages, _rest(obj, {"conversations", "system"})


def prompt_completion(obj: Any, **_: Any) -> tuple[Messages, dict]:
    _need(obj, "prompt", "completion")
    prompt, completion = obj["prompt"], obj["completion"]
    if isinstance(prompt, list):  # the conversational form TRL uses
        messages = _turns(prompt, "role", "content", "'prompt'")
        messages += _turns(completion if isinstance(completion, list) else
                           [{"role": "assistant", "content": completion}],
                           "role", "content", "'completion'")
    else:
        messages = [{"role": "user", "content": _text(prompt, "'prompt'")},
                    {"role": "assistant", "content": _text(completion, "'completion'")}]
    return messages, _rest(obj, {"prompt", "completion"})


def columns(obj: Any, mapping: dict[str, str] | None = None,
            system: str | None = None, **_: Any) -> tuple[Messages, dict]:
    """A flat record whose columns map to roles; several columns of a role are joined."""
    if not mapping:
        raise ConvertError("the columns format needs --map COLUMN=ROLE")
    _need(obj, *mapping)
    by_role: dict[str, list[str]] = {}
    meta: dict[str, Any] = {}
    for column, role in mapping.items():
        if role == "meta":
            meta[column] = obj[column]
        else:
            by_role.setdefault(role, []).append(_text(obj[column], repr(column)))
    messages = [{"role": "system", "content": system}] if system else []
    for role in ("system", "user", "assistant"):
        if role in by_role:
            messages.append({"role": role, "content": "\n\n".join(by_role[role])})
    return messages, {**_rest(obj, set(mapping)), **meta}


CONVERTERS: dict[str, Callable[..., tuple[Messages, dict]]] = {
    "alpaca": alpaca, "sharegpt": sharegpt, "openai": openai,
    "prompt_completion": prompt_completion, "columns": columns,
    "csv": columns, "jsonl": columns,
}
