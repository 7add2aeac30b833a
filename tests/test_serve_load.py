"""A bounded load test over loopback: a fixed number of mixed, partly hostile clients.

Concurrent normal clients, slow readers, clients that hang up mid-stream,
oversized bodies, bad JSON and unknown adapters, all at once. The server must
answer each with the right status, free the rows of clients that left, stay
up, and keep its memory bounded.
"""

from __future__ import annotations

import json
import threading
import time

import httpx
import psutil
import pytest

from lorakit.adapters.registry import Registry
from lorakit.serve.runtime import build_engine
from test_registry import make_peft_adapter
from test_serve_http import KEY, running_server

HEAD = {"Authorization": f"Bearer {KEY}"}
ROUNDS = 2


def body(model: str, n: int = 12, stream: bool = False) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": "count to ten"}],
            "max_tokens": n, "temperature": 0.8, "seed": 1, "stream": stream}


def normal(url, i):
    r = httpx.post(url + "/v1/chat/completions", headers=HEAD,
                   json=body(["alpha", "beta", "tiny"][i % 3]), timeout=120)
    return r.status_code == 200 and r.json()["choices"][0]["finish_reason"] in ("length", "stop")


def slow_reader(url, i):
    with httpx.stream("POST", url + "/v1/chat/completions", headers=HEAD,
                      json=body("beta", 20, stream=True), timeout=120) as r:
        lines = []
        for line in r.iter_lines():
            time.sleep(0.05)  # a client on a slow link
            lines.append(line)
    events = [line for line in lines if line]
    return r.status_code == 200 and events[-1] == "data: [DONE]" and len(events) > 3


def hangs_up(url, i):
    with httpx.stream("POST", url + "/v1/chat/completions", headers=HEAD,
                      json=body("alpha", 400, stream=True), timeout=120) as r:
        for n, line in enumerate(r.iter_lines()):
            if n >= 3:
                break  # leave mid-stream; the server must drop the row
    return r.status_code == 200


def oversized(url, i):
    big = json.dumps(body("alpha") | {"pad": "x" * 200_000})
    r = httpx.post(url + "/v1/chat/completions", headers=HEAD | {"content-type":
                                                                "application/json"},
                   content=big, timeout=60)
    return r.status_code == 413


def chunked_oversized(url, i):
    def chunks():
        for _ in range(40):
            yield b"x" * 4096  # no Content-Length: the guard counts as it reads

    r = httpx.post(url + "/v1/completions", headers=HEAD, content=chunks(), timeout=60)
    return r.status_code == 413


def unknown(url, i):
    r = httpx.post(url + "/v1/chat/completions", headers=HEAD, json=body("nobody"),
                   timeout=60)
    return r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"


def bad_json(url, i):
    r = httpx.post(url + "/v1/chat/completions", headers=HEAD, content=b"[1, 2",
                   timeout=60)
    return r.status_code == 400


def no_key(url, i):
    return httpx.post(url + "/v1/chat/completions", json=body("alpha"),
                      timeout=60).status_code == 401


CLIENTS = [normal] * 6 + [slow_reader] * 2 + [hangs_up] * 4 + [oversized, chunked_oversized,
                                                               unknown, bad_json, no_key]


@pytest.fixture(scope="module")
def engine(tiny_base, tmp_path_factory):
    root = tmp_path_factory.mktemp("adapters")
    folders = {"alpha": make_peft_adapter(tiny_base, root / "alpha", seed=1),
               "beta": make_peft_adapter(tiny_base, root / "beta", seed=2)}
    eng = build_engine(str(tiny_base), adapters=folders, registry=Registry(root / "r.db"),
                       dtype="float32", device="cpu", max_batch=16, queue_limit=64)
    eng.base_name = "tiny"
    eng.stop_ids = set()
    yield eng
    eng.shutdown()


def test_bounded_mixed_load(engine):
    process = psutil.Process()
    results: list[tuple[str, bool]] = []
    with running_server(engine, max_body_bytes=64 * 1024) as url:
        rss = []
        for _ in range(ROUNDS):
            threads = [threading.Thread(target=lambda f=f, i=i: results.append(
                (f.__name__, f(url, i)))) for i, f in enumerate(CLIENTS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=180)
            rss.append(process.memory_info().rss)

        # every client got the answer its request deserved
        failed = [name for name, ok in results if not ok]
        assert len(results) == ROUNDS * len(CLIENTS) and not failed, failed

        # rows of clients that hung up are freed, and the server still answers
        deadline = time.time() + 30
        while time.time() < deadline and (engine.active or engine.waiting):
            time.sleep(0.1)
        assert not engine.active and not engine.waiting
        assert normal(url, 0)
        # and they stopped generating: far fewer tokens than 4 x 400 per round
        assert engine.stats["tokens"] < ROUNDS * (6 * 12 + 2 * 20 + 4 * 100)
        # memory bounded: the second round adds no more than a small margin
        assert rss[-1] - rss[0] < 150 * 2**20, [r / 2**20 for r in rss]
