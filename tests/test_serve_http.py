"""The HTTP API through the real `openai` client against uvicorn on 127.0.0.1."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import httpx
import openai
import pytest

from lorakit.adapters.registry import Registry
from lorakit.serve.app import create_app
from lorakit.serve.runtime import build_engine
from test_registry import make_peft_adapter
from test_serve_scheduler import reference

KEY = "test-key-123"


@contextlib.contextmanager
def running_server(engine, api_key=KEY, max_body_bytes=1 << 16):
    """uvicorn in a thread on a free loopback port; yields the base URL."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(engine, api_key=api_key, max_body_bytes=max_body_bytes),
                            host="127.0.0.1", port=port, log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def adapters(tiny_base, tmp_path_factory):
    root = tmp_path_factory.mktemp("adapters")
    return {"alpha": make_peft_adapter(tiny_base, root / "alpha", seed=1),
            "beta": make_peft_adapter(tiny_base, root / "beta", seed=2, rank=8),
            "gamma": make_peft_adapter(tiny_base, root / "gamma", seed=3)}


@pytest.fixture(scope="module")
def served(tiny_base, adapters, tmp_path_factory):
    registry = Registry(tmp_path_factory.mktemp("reg") / "registry.db")
    registry.register(adapters["gamma"], name="gamma", base=str(tiny_base))
    engine = build_engine(str(tiny_base), adapters={k: adapters[k] for k in ("alpha", "beta")},
                          registry=registry, dtype="float32", device="cpu", max_loaded=2,
                          max_new_tokens=600)
    engine.stop_ids = set()  # random tiny model: compare whole outputs
    with running_server(engine) as url:
        yield engine, url


@pytest.fixture()
def client(served):
    return openai.OpenAI(base_url=served[1] + "/v1", api_key=KEY, max_retries=0, timeout=60)


def ask(client, model, content, n=8, **kw):
    return client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": content}], max_tokens=n,
        temperature=0, **kw)


def test_models_lists_base_and_adapters(client, served):
    ids = [m.id for m in client.models.list().data]
    assert ids[0] == served[0].base_name and {"alpha", "beta", "gamma"} <= set(ids)


def test_concurrent_requests_each_get_their_adapter(client, served, tiny_base, adapters,
                                                    tiny_tokenizer):
    engine = served[0]
    jobs = [(m, p) for p in ("hi", "tell me a story", "2+2?") for m in
            ("alpha", "beta", engine.base_name)]
    got = {}

    def one(model, prompt):
        got[(model, prompt)] = ask(client, model, prompt).choices[0].message.content

    threads = [threading.Thread(target=one, args=j) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for model, prompt in jobs:
        folder = adapters.get(model)
        want = reference(tiny_base, folder, tiny_tokenizer,
                         [{"role": "user", "content": prompt}], n=8)
        assert got[(model, prompt)] == want, (model, prompt)


def test_streaming_matches_and_registry_adapter_loads_on_use(client, served):
    whole = ask(client, "gamma", "stream me").choices[0].message.content
    parts, finish = [], None
    stream = ask(client, "gamma", "stream me", stream=True,
                 stream_options={"include_usage": True})
    usage = None
    for ev in stream:
        if ev.choices:
            parts.append(ev.choices[0].delta.content or "")
            finish = ev.choices[0].finish_reason or finish
        if ev.usage:
            usage = ev.usage
    assert "".join(parts) == whole and finish == "length" and usage.completion_tokens == 8
    assert len(served[0].pool.loaded) <= 2  # LRU pool holds at most --max-loaded


def test_completions_endpoint(client):
    out = client.completions.create(model="alpha", prompt="Once upon", max_tokens=5,
                                    temperature=0)
    assert out.choices[0].finish_reason == "length" and out.choices[0].text


def test_errors_are_json_with_the_right_status(client, served):
    url = served[1]
    with pytest.raises(openai.NotFoundError):
        ask(client, "no-such-adapter", "hi")
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=url + "/v1", api_key="wrong", max_retries=0).models.list()
    head = {"Authorization": f"Bearer {KEY}"}
    r = httpx.post(url + "/v1/chat/completions", content=b"{not json", headers=head)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
    r = httpx.post(url + "/v1/chat/completions", headers=head,
                   json={"model": "alpha", "messages": [{"role": "user", "content": "x"}],
                         "temperature": "hot"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "temperature"
    r = httpx.post(url + "/v1/chat/completions", headers=head, content=b"x" * 70000)
    assert r.status_code == 413
    r = httpx.post(url + "/v1/chat/completions", headers=head,
                   json={"model": "alpha", "messages": [{"role": "user", "content": "x"}],
                         "max_tokens": 10_000})
    assert r.status_code == 400 and r.json()["error"]["code"] == "max_tokens_exceeded"
    r = httpx.post(url + "/v1/completions", headers=head,
                   json={"model": "alpha", "prompt": "word " * 3000})
    assert r.status_code == 400 and r.json()["error"]["code"] == "context_length_exceeded"
    assert httpx.get(url + "/health").json()["status"] == "ok"  # open without the key


def test_queue_limit_429_and_timeout_504(client, served):
    engine = served[0]
    engine.queue_limit = 0
    try:
        with pytest.raises(openai.RateLimitError):
            ask(client, "alpha", "hi")
    finally:
        engine.queue_limit = 64
    engine.timeout_s = 0.2
    try:
        with pytest.raises(openai.APIStatusError) as err:
            ask(client, "alpha", "hi", n=600)
        assert err.value.status_code == 504
    finally:
        engine.timeout_s = 120


def test_hot_load_and_unload(client, served, adapters):
    url, head = served[1], {"Authorization": f"Bearer {KEY}"}
    r = httpx.post(url + "/v1/adapters", headers=head,
                   json={"name": "delta", "path": str(adapters["gamma"])})
    assert r.status_code == 200 and r.json()["load_ms"] > 0
    assert ask(client, "delta", "hi").choices[0].message.content == \
        ask(client, "gamma", "hi").choices[0].message.content
    r = httpx.delete(url + "/v1/adapters/delta", headers=head)
    assert r.status_code == 200
    assert "delta" not in served[0].pool.loaded
    assert httpx.delete(url + "/v1/adapters/delta", headers=head).status_code == 404
    assert httpx.post(url + "/v1/adapters", headers=head,
                      json={"name": "../etc"}).status_code == 400


def test_refuses_public_bind_without_key():
    from click.testing import CliRunner

    from lorakit.core.errors import UsageError
    from lorakit.serve.cli import serve

    result = CliRunner().invoke(serve, ["--host", "0.0.0.0"])
    assert isinstance(result.exception, UsageError)
    assert "without an API key" in str(result.exception)


def test_chat_cli_in_process(adapters, tiny_base):
    from click.testing import CliRunner

    from lorakit.serve.cli import chat

    result = CliRunner().invoke(chat, ["--adapter", str(adapters["alpha"]), "--base",
                                       str(tiny_base), "--max-tokens", "4", "--temperature",
                                       "0", "--dtype", "float32"],
                                input="hello\n/reset\nagain\n/quit\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("you> ") == 4 and "chatting with" in result.output
