"""The local web page and its small JSON API (FastAPI + uvicorn, as `serve`).

Safety, since the page can write files and run models: the server binds
127.0.0.1 only; every request (the page, its assets and the API) needs the
random token printed in the start URL, sent as ``?token=`` once (it is then
kept in a SameSite=Strict, HttpOnly cookie), or as an ``X-Lorakit-Token`` /
``Authorization: Bearer`` header; tokens are compared in constant time; and a
``Host`` header other than localhost is refused (DNS rebinding).
"""

from __future__ import annotations

import hmac
import secrets
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Body, FastAPI, Request
from fastapi.responses import (FileResponse, JSONResponse, PlainTextResponse,
                               RedirectResponse)
from fastapi.staticfiles import StaticFiles

from lorakit.core.errors import LorakitError
from lorakit.core.example import CHECKS

STATIC = Path(__file__).parent / "static"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]"}


@dataclass
class UIState:
    """What the page works on; any part may be missing (that tab then says so)."""

    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    review: Any = None  # ReviewSession
    registry: Any = None  # Registry
    comparer: Any = None  # Comparer
    run_roots: list[Path] = field(default_factory=list)
    checks_available: bool = True


def create_app(state: UIState) -> FastAPI:
    """The FastAPI app: the page at ``/``, assets at ``/static``, JSON under ``/api``."""
    app = FastAPI(title="lorakit ui", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        # cookies ignore ports: one name per port keeps two pages from clashing
        cookie = f"lorakit_ui_token_{request.url.port or 80}"

        # refuse other hosts first, then anything without the token
        if _host(request) not in LOCAL_HOSTS:
            return PlainTextResponse("lorakit ui answers only on localhost",
                                     status_code=403)
        given = (request.query_params.get("token") or request.headers.get("x-lorakit-token")
                 or _bearer(request) or request.cookies.get(cookie) or "")
        if not hmac.compare_digest(given.encode(), state.token.encode()):
            return PlainTextResponse(
                "lorakit ui: missing or wrong token. Open the URL `lorakit ui` printed "
                "(it ends in ?token=...).", status_code=401)
        if "token" in request.query_params and request.method == "GET" \
                and not request.url.path.startswith("/api/"):
            # keep the token in a cookie and drop it from the address bar
            response = RedirectResponse(request.url.path, status_code=303)
            response.set_cookie(cookie, state.token, httponly=True, samesite="strict")
            return response
        return await call_next(request)

    @app.exception_handler(LorakitError)
    async def lorakit_error(request: Request, exc: LorakitError):
        return JSONResponse({"error": exc.message, "fix": exc.fix, "path": exc.path,
                             "line": exc.line}, status_code=400)

    @app.get("/")
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _review_routes(app, state)
    _runs_routes(app, state)
    _compare_routes(app, state)
    return app


def _host(request: Request) -> str:
    host = request.headers.get("host") or ""
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.split(":")[0]


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization") or ""
    return auth[7:] if auth.lower().startswith("bearer ") else None


def _review_routes(app: FastAPI, state: UIState) -> None:
    @app.get("/api/info")
    def info() -> dict[str, Any]:
        return {"review": state.review.info() if state.review else None,
                "checks": CHECKS, "checks_available": state.checks_available,
                "registry": str(state.registry.path) if state.registry else None}

    @app.get("/api/rows")
    def rows() -> dict[str, Any]:
        review = _need_review(state)
        with review.lock:
            return {"info": review.info(), "rows": [r.to_dict() for r in review.rows]}

    @app.post("/api/rows/{line}/{action}")
    def act(line: int, action: str,
            body: dict[str, Any] = Body(default={})) -> dict[str, Any]:
        review = _need_review(state)
        after = body.get("row")
        if action == "edit" and after is None and isinstance(body.get("raw"), str):
            after = _parse_edit(body["raw"], line)
        row = review.act(line, action, after=after, reason=body.get("reason"))
        with review.lock:
            return {"row": row.to_dict(), "info": review.info(),
                    "rows": [r.to_dict() for r in review.rows]}


def _need_review(state: UIState):
    return _need(state.review, "no dataset given", "start with `lorakit ui --data FILE`")


def _parse_edit(raw: str, line: int) -> Any:
    import json

    try:
        return json.loads(raw)
    except ValueError as exc:
        raise LorakitError(f"the edited row is not valid JSON ({exc})", line=line,
                           fix="fix the JSON, or reject the row instead") from None


def _runs_routes(app: FastAPI, state: UIState) -> None:
    from lorakit.ui import runs

    @app.get("/api/runs")
    def list_runs() -> dict[str, Any]:
        found = runs.discover(state.registry, state.run_roots)
        return {"runs": [{**entry, **runs.load_run(entry["path"]), "name": entry["name"]}
                         for entry in found]}


def _compare_routes(app: FastAPI, state: UIState) -> None:
    @app.get("/api/adapters")
    def adapters() -> dict[str, Any]:
        comparer = _need(state.comparer, "no registry", "register adapters first")
        return {"adapters": comparer.choices(), "base": comparer.base_spec}

    @app.post("/api/compare")
    def compare(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        comparer = _need(state.comparer, "no registry", "register adapters first")
        return comparer.run(str(body.get("prompt") or ""), list(body.get("adapters") or []),
                            system=body.get("system") or None,
                            max_new_tokens=int(body.get("max_new_tokens") or 128),
                            include_base=bool(body.get("include_base", True)))


def _need(value: Any, message: str, fix: str) -> Any:
    if value is None:
        raise LorakitError(message, fix=fix)
    return value


def bind(port: int, host: str = "127.0.0.1") -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one), with a clear error."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise LorakitError(f"cannot listen on {host}:{port} ({exc.strerror})",
                           fix=f"pick another port: --port {port + 1}, or --port 0 for any "
                               "free one") from None
    sock.listen(128)
    return sock


def start_url(sock: socket.socket, token: str) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}/?token={token}"


class Running:
    """A uvicorn server in a background thread (tests, notebooks)."""

    def __init__(self, app: FastAPI, token: str, port: int = 0):
        import uvicorn

        self.sock = bind(port)
        self.url = start_url(self.sock, token)
        self.base = self.url.split("/?")[0]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run,
                                       kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> "Running":
        import time

        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


def serve_forever(app: FastAPI, sock: socket.socket) -> None:
    """Run the server in this thread until Ctrl-C."""
    import uvicorn

    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
