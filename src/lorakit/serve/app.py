"""The OpenAI-compatible HTTP API over one engine.

``GET /v1/models``, ``POST /v1/chat/completions``, ``POST /v1/completions``
(streaming with server-sent events), ``POST /v1/adapters`` and
``DELETE /v1/adapters/{name}`` to load and unload adapters at run time, and
``GET /health``. Handlers only parse, submit to the scheduler and relay its
events; the model is touched by the scheduler thread alone.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from lorakit.adapters.registry import validate_name
from lorakit.core.errors import LorakitError
from lorakit.serve.guard import BodyTooLarge, Guard, error_body
from lorakit.serve.pool import PoolBusy
from lorakit.serve.runtime import chat_prompt_ids, model_for, text_prompt_ids
from lorakit.serve.scheduler import Engine, Event, QueueFull
from lorakit.serve.schema import (ApiError, Parsed, chunk, full_response, new_id,
                                  parse_chat, parse_completion, parse_json)


def create_app(engine: Engine, api_key: str | None = None,
               max_body_bytes: int = 1 << 20) -> Any:
    """The ASGI app: FastAPI routes wrapped in the key and body-size guard."""
    app = FastAPI(title="lorakit", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.status, exc.message, exc.code, exc.param),
                            status_code=exc.status)

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge) -> JSONResponse:
        return JSONResponse(error_body(413, f"request body is over {max_body_bytes} bytes",
                                       "body_too_large"), status_code=413)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        state = engine.load_state()
        return {"status": "ok", "active": state["active"], "waiting": state["waiting"]}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        loaded = set(engine.pool.loaded)
        rows = [{"id": engine.base_name, "object": "model", "created": 0,
                 "owned_by": "lorakit", "kind": "base", "loaded": True}]
        rows += [{"id": name, "object": "model", "created": 0, "owned_by": "lorakit",
                  "kind": "adapter", "parent": engine.base_name, "loaded": name in loaded}
                 for name in engine.pool.available()]
        return {"object": "list", "data": rows}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        parsed = parse_chat(parse_json(await request.body()), engine.max_new_tokens)
        return await _generate(engine, request, parsed, chat=True)

    @app.post("/v1/completions")
    async def completions(request: Request):
        parsed = parse_completion(parse_json(await request.body()), engine.max_new_tokens)
        return await _generate(engine, request, parsed, chat=False)

    @app.post("/v1/adapters")
    async def load_adapter(request: Request) -> dict[str, Any]:
        body = parse_json(await request.body())
        name, path = body.get("name"), body.get("path")
        _check_name(name)
        if path is not None and not isinstance(path, str):
            raise ApiError(400, "path must be a string", "invalid_value", "path")
        if path is None and not engine.pool.known(name):
            raise ApiError(404, f"no adapter named {name!r} is registered",
                           "model_not_found", "name")
        ms = await _on_scheduler(engine, lambda: engine.pool.load(name, path))
        return {"name": name, "loaded": True, "load_ms": round(ms, 2)}

    @app.delete("/v1/adapters/{name}")
    async def unload_adapter(name: str) -> dict[str, Any]:
        _check_name(name)
        if name not in engine.pool.loaded:
            raise ApiError(404, f"adapter {name!r} is not loaded", "model_not_found")
        await _on_scheduler(engine, lambda: engine.pool.unload(name))
        return {"name": name, "loaded": False}

    return Guard(app, api_key=api_key, max_body_bytes=max_body_bytes)


def _check_name(name: Any) -> None:
    try:
        validate_name(name)
    except LorakitError as exc:
        raise ApiError(400, exc.message, "invalid_name", "name") from None


async def _on_scheduler(engine: Engine, fn) -> Any:
    """Run a model change on the scheduler thread; map its errors to HTTP."""
    try:
        return await run_in_threadpool(engine.call, fn)
    except PoolBusy as exc:
        raise ApiError(409, str(exc), "adapter_in_use") from None
    except LorakitError as exc:
        raise ApiError(400, exc.message + (f" ({exc.path})" if exc.path else ""),
                       "adapter_invalid") from None


async def _generate(engine: Engine, request: Request, parsed: Parsed, chat: bool):
    # the model field picks the adapter; unknown names are a 404 like OpenAI's
    try:
        adapter = model_for(engine, parsed.model)
    except LorakitError as exc:
        raise ApiError(404, exc.message, "model_not_found", "model") from None
    tok = engine.tokenizer
    ids = chat_prompt_ids(tok, parsed.messages) if chat else text_prompt_ids(tok, parsed.prompt)
    if len(ids) > engine.max_prompt_tokens:
        raise ApiError(400, f"prompt is {len(ids)} tokens, over this server's limit of "
                            f"{engine.max_prompt_tokens}", "context_length_exceeded")
    if not ids:
        raise ApiError(400, "prompt is empty", "invalid_value", "prompt")

    # the scheduler thread hands events to this request's asyncio queue
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[Event] = asyncio.Queue()

    def sink(event: Event) -> None:
        try:
            loop.call_soon_threadsafe(events.put_nowait, event)
        except RuntimeError:
            pass  # the event loop is gone (server stopping)

    try:
        seq = engine.submit(adapter, ids, parsed.params, sink)
    except QueueFull as exc:
        raise ApiError(429, f"server is busy ({exc}); retry later", "queue_full") from None
    rid = new_id(chat)
    if parsed.stream:
        return StreamingResponse(_stream(seq, events, rid, chat, parsed),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})
    return await _collect(seq, events, request, rid, chat, parsed.model)


async def _collect(seq, events: asyncio.Queue, request: Request, rid: str, chat: bool,
                   model: str) -> JSONResponse:
    """Wait for the whole answer; a client that hangs up cancels its row."""
    text = ""
    try:
        while True:
            try:
                event = await asyncio.wait_for(events.get(), timeout=1.0)
            except asyncio.TimeoutError:
                if await request.is_disconnected():
                    seq.cancel()
                    return JSONResponse({}, status_code=499)
                continue
            if event.kind == "delta":
                text += event.text
            elif event.kind == "done":
                return JSONResponse(full_response(rid, chat, model, text, event.finish_reason,
                                                  event.usage))
            else:
                return JSONResponse(error_body(event.status, event.text, event.code),
                                    status_code=event.status)
    finally:
        seq.cancel()  # a no-op once finished; frees the row on any early exit


async def _stream(seq, events: asyncio.Queue, rid: str, chat: bool,
                  parsed: Parsed) -> AsyncIterator[str]:
    """Server-sent events; the first chunk carries the role, the last [DONE]."""
    model = parsed.model
    try:
        yield _sse(chunk(rid, chat, model, role=True) if chat else chunk(rid, chat, model))
        while True:
            event = await events.get()
            if event.kind == "delta":
                yield _sse(chunk(rid, chat, model, text=event.text))
            elif event.kind == "done":
                yield _sse(chunk(rid, chat, model, finish=event.finish_reason))
                if parsed.include_usage:
                    yield _sse(chunk(rid, chat, model, usage=event.usage))
                break
            else:
                yield _sse(error_body(event.status, event.text, event.code))
                break
        yield "data: [DONE]\n\n"
    finally:
        seq.cancel()  # the client went away mid-stream: the scheduler drops its row


def _sse(obj: dict) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"

