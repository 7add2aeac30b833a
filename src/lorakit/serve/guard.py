"""Limits every request passes before any handler runs: the API key and body size.

A plain ASGI middleware (not a FastAPI dependency) so it also covers paths a
handler does not declare and bodies sent in chunks without a Content-Length.
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.responses import JSONResponse

OPEN_PATHS = {"/health"}  # answered without the key (says only "ok" and counts)


class BodyTooLarge(Exception):
    """The body grew past the limit while being read (chunked uploads)."""


def error_body(status: int, message: str, code: str | None = None,
               param: str | None = None) -> dict[str, Any]:
    """The OpenAI error shape: {"error": {"message", "type", "param", "code"}}."""
    kinds = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
             409: "conflict_error", 413: "invalid_request_error", 429: "rate_limit_error",
             504: "timeout_error"}
    return {"error": {"message": message, "type": kinds.get(status, "server_error"),
                      "param": param, "code": code}}


def key_matches(given: str | None, key: str) -> bool:
    """Constant-time comparison, so response timing does not leak the key."""
    return given is not None and hmac.compare_digest(given.encode(), key.encode())


class Guard:
    """ASGI middleware: 401 without the key (when one is set), 413 for big bodies."""

    def __init__(self, app, api_key: str | None, max_body_bytes: int):
        self.app = app
        self.api_key = api_key
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}

        # the key first: an unauthenticated client learns nothing else
        if self.api_key and scope["path"] not in OPEN_PATHS:
            auth = headers.get("authorization", "")
            given = auth[7:] if auth.lower().startswith("bearer ") else None
            if not key_matches(given, self.api_key):
                return await _reply(scope, receive, send, 401,
                                    "missing or wrong API key", "invalid_api_key")

        # a declared size over the limit is refused before reading a byte
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            return await _reply(scope, receive, send, 413,
                                f"request body is over {self.max_body_bytes} bytes",
                                "body_too_large")
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise BodyTooLarge()
            return message

        return await self.app(scope, counted, send)


async def _reply(scope, receive, send, status: int, message: str, code: str) -> None:
    response = JSONResponse(error_body(status, message, code), status_code=status)
    await response(scope, receive, send)
