"""The scheduler: mixed-adapter continuous batching matches single-adapter generation."""

from __future__ import annotations

import queue
import threading

import pytest
import torch

from lorakit.adapters.registry import BASE_NAME, Registry
from lorakit.serve.runtime import build_engine, chat_prompt_ids
from lorakit.serve.sampling import GenParams, split_stop
from test_registry import make_peft_adapter

N_NEW = 10
PROMPTS = ["hello there", "what is two plus two?", "name a colour",
           "write a long sentence about the sea and the sky and the wind"]


@pytest.fixture(scope="module")
def two_adapters(tiny_base, tmp_path_factory):
    root = tmp_path_factory.mktemp("adapters")
    return {"alpha": make_peft_adapter(tiny_base, root / "alpha", seed=1),
            "beta": make_peft_adapter(tiny_base, root / "beta", seed=2, rank=8)}


def reference(tiny_base, folder, tokenizer, messages, n=N_NEW) -> str:
    """Greedy text from a plain single-adapter PeftModel (or the base)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_base, dtype=torch.float32)
    if folder is not None:
        model = PeftModel.from_pretrained(model, str(folder))
    ids = torch.tensor([chat_prompt_ids(tokenizer, messages)])
    out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n,
                         do_sample=False, eos_token_id=None, pad_token_id=0)
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


def run(engine, adapter, messages, n=N_NEW, **params) -> dict:
    events: queue.Queue = queue.Queue()
    engine.submit(adapter, chat_prompt_ids(engine.tokenizer, messages),
                  GenParams(max_tokens=n, temperature=params.pop("temperature", 0.0), **params),
                  events.put)
    text = ""
    while True:
        ev = events.get(timeout=60)
        if ev.kind == "delta":
            text += ev.text
        else:
            return {"text": text, "event": ev}


@pytest.fixture(scope="module", params=["stacked", "peft"])
def engine(tiny_base, two_adapters, request):
    eng = build_engine(str(tiny_base), adapters=two_adapters, registry=Registry(":memory:"),
                       dtype="float32", device="cpu", max_batch=8, lora_impl=request.param)
    eng.stop_ids = set()  # a random tiny model: never stop early, compare whole outputs
    yield eng
    eng.shutdown()


def test_each_row_gets_its_own_adapter_under_concurrency(engine, tiny_base, two_adapters,
                                                         tiny_tokenizer):
    jobs = [(name, [{"role": "user", "content": p}])
            for p in PROMPTS for name in ("alpha", "beta", BASE_NAME)]
    want = {(a, m[0]["content"]): reference(tiny_base, two_adapters.get(a), tiny_tokenizer, m)
            for a, m in jobs}
    # the three kinds of output differ, so a mix-up would show
    assert len({want[(a, PROMPTS[0])] for a in ("alpha", "beta", BASE_NAME)}) == 3

    got: dict = {}

    def client(a, m):
        got[(a, m[0]["content"])] = run(engine, a, m)

    threads = [threading.Thread(target=client, args=j) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for key, value in want.items():
        assert got[key]["text"] == value, key
        assert got[key]["event"].finish_reason == "length"
    assert engine.stats["max_batch_seen"] > 1  # really batched together


def test_join_between_steps_and_stop_strings(engine, tiny_base, two_adapters, tiny_tokenizer):
    long_msg = [{"role": "user", "content": PROMPTS[3]}]
    want = reference(tiny_base, two_adapters["alpha"], tiny_tokenizer, long_msg, n=30)
    results = {}
    t = threading.Thread(target=lambda: results.update(a=run(engine, "alpha", long_msg, 30)))
    t.start()
    # a second request joins while the first is decoding
    short = [{"role": "user", "content": "hi"}]
    results["b"] = run(engine, "beta", short, 5)
    t.join(timeout=60)
    assert results["a"]["text"] == want
    assert results["b"]["text"] == reference(tiny_base, two_adapters["beta"], tiny_tokenizer,
                                             short, n=5)
    stop = want[8:11]
    cut = run(engine, "alpha", long_msg, 30, stop=[stop])
    assert cut["text"] == want[: want.find(stop)] and cut["event"].finish_reason == "stop"


def test_seeded_sampling_is_reproducible(engine):
    msg = [{"role": "user", "content": "tell me something"}]
    a = run(engine, "beta", msg, 8, temperature=0.9, top_p=0.9, seed=7)
    b = run(engine, "beta", msg, 8, temperature=0.9, top_p=0.9, seed=7)
    assert a["text"] == b["text"]


def test_split_stop_holds_back_partial_stop():
    assert split_stop("abc END", ["END"]) == ("abc ", True, 4)
    assert split_stop("abc EN", ["END"]) == ("abc EN", False, 4)
    assert split_stop("abc", []) == ("abc", False, 3)


def test_failed_forward_fails_its_requests_not_the_engine(engine, monkeypatch):
    real = engine.pool.forward
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("injected fault")
        return real(*args, **kwargs)

    monkeypatch.setattr(engine.pool, "forward", flaky)
    msg = [{"role": "user", "content": "hi"}]
    failed = run(engine, "alpha", msg, 4)
    assert failed["event"].kind == "error" and failed["event"].status == 500
    assert "injected fault" in failed["event"].text
    assert engine.pool.loaded["alpha"] == 0  # its adapter slot was released
    assert run(engine, "alpha", msg, 4)["event"].finish_reason == "length"
