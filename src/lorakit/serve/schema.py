"""Reading OpenAI request bodies (strictly, with 400s that name the field) and
writing OpenAI response objects."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from lorakit.serve.sampling import GenParams

DEFAULT_MAX_TOKENS = 256


class ApiError(Exception):
    """An HTTP error with an OpenAI-shaped body."""

    def __init__(self, status: int, message: str, code: str | None = None,
                 param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param


@dataclass
class Parsed:
    model: str
    params: GenParams
    stream: bool
    include_usage: bool
    messages: list[dict[str, str]] | None = None
    prompt: str | None = None


def parse_json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"body is not valid JSON ({exc})", "invalid_json") from None
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object", "invalid_json")
    return body


def _number(body: dict, key: str, default: float, low: float, high: float) -> float:
    value = body.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ApiError(400, f"{key} must be a number from {low} to {high}, got {value!r}"[:200],
                       "invalid_value", key)
    return float(value)


def _params(body: dict, max_new_tokens: int) -> GenParams:
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    if max_tokens is None:
        max_tokens = min(DEFAULT_MAX_TOKENS, max_new_tokens)
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ApiError(400, f"max_tokens must be a positive integer, got {max_tokens!r}"[:200],
                       "invalid_value", "max_tokens")
    if max_tokens > max_new_tokens:
        raise ApiError(400, f"max_tokens {max_tokens} is over this server's limit of "
                            f"{max_new_tokens}", "max_tokens_exceeded", "max_tokens")
    stop = body.get("stop") or []
    if isinstance(stop, str):
        stop = [stop]
    if (not isinstance(stop, list) or len(stop) > 4
            or not all(isinstance(s, str) and 0 < len(s) <= 256 for s in stop)):
        raise ApiError(400, "stop must be a string or a list of up to 4 non-empty strings",
                       "invalid_value", "stop")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ApiError(400, f"seed must be an integer, got {seed!r}"[:200], "invalid_value",
                       "seed")
    if body.get("n", 1) != 1:
        raise ApiError(400, "only n=1 is supported", "unsupported_value", "n")
    return GenParams(max_tokens=max_tokens,
                     temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
                     top_p=_number(body, "top_p", 1.0, 1e-6, 1.0), stop=stop,
                     seed=None if seed is None else seed % 2**63)


def _common(body: dict, max_new_tokens: int) -> tuple[str, GenParams, bool, bool]:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "model is required (the base's name or an adapter's)",
                       "missing_model", "model")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "stream must be true or false", "invalid_value", "stream")
    options = body.get("stream_options") or {}
    include_usage = bool(options.get("include_usage")) if isinstance(options, dict) else False
    return model, _params(body, max_new_tokens), stream, include_usage


def parse_chat(body: dict, max_new_tokens: int) -> Parsed:
    """A /v1/chat/completions body; message content may be a string or text parts."""
    model, params, stream, usage = _common(body, max_new_tokens)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages must be a non-empty list", "invalid_value", "messages")
    clean = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant"):
            raise ApiError(400, f"messages[{i}] needs a role of system, user or assistant",
                           "invalid_value", f"messages[{i}]")
        content = m.get("content")
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content
                              if isinstance(p, dict) and p.get("type") == "text")
        if not isinstance(content, str):
            raise ApiError(400, f"messages[{i}].content must be text", "invalid_value",
                           f"messages[{i}].content")
        clean.append({"role": m["role"], "content": content})
    return Parsed(model, params, stream, usage, messages=clean)


def parse_completion(body: dict, max_new_tokens: int) -> Parsed:
    model, params, stream, usage = _common(body, max_new_tokens)
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise ApiError(400, "prompt must be a string (one prompt per request)",
                       "invalid_value", "prompt")
    return Parsed(model, params, stream, usage, prompt=prompt)


# --- responses -------------------------------------------------------------------


def new_id(chat: bool) -> str:
    return ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]


def full_response(rid: str, chat: bool, model: str, text: str, finish: str,
                  usage: dict) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "finish_reason": finish, "logprobs": None}
    if chat:
        choice["message"] = {"role": "assistant", "content": text}
    else:
        choice["text"] = text
    return {"id": rid, "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()), "model": model, "choices": [choice], "usage": usage}


def chunk(rid: str, chat: bool, model: str, text: str | None = None,
          finish: str | None = None, role: bool = False,
          usage: dict | None = None) -> dict[str, Any]:
    """One streamed chunk; ``usage`` alone makes the final usage-only chunk."""
    choices: list[dict[str, Any]] = []
    if usage is None:
        choice: dict[str, Any] = {"index": 0, "finish_reason": finish, "logprobs": None}
        if chat:
            delta: dict[str, Any] = {"role": "assistant"} if role else {}
            if text:
                delta["content"] = text
            choice["delta"] = delta
        else:
            choice["text"] = text or ""
        choices = [choice]
    out = {"id": rid, "object": "chat.completion.chunk" if chat else "text_completion",
           "created": int(time.time()), "model": model, "choices": choices}
    if usage is not None:
        out["usage"] = usage
    return out
