"""End to end: two adapters trained by `lorakit train` on the default base, served at once."""

from __future__ import annotations

import json
import threading

import openai
import pytest

from lorakit.adapters.registry import Registry
from lorakit.serve.runtime import build_engine
from test_serve_http import KEY, running_server

QUESTIONS = ["hello", "what time is it?", "tell me a joke", "how are you?",
             "what is your name?", "name a fruit", "where is Paris?", "say something"]


def _data(path, answer: str):
    rows = [{"messages": [{"role": "user", "content": q},
                          {"role": "assistant", "content": answer}]} for q in QUESTIONS]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.e2e
def test_two_trained_adapters_served_at_once(default_base, tmp_path):
    from lorakit.core.config import load_config
    from lorakit.train.run import train

    registry = Registry()
    for name, answer in (("alpha", "ALPHA ALPHA ALPHA."), ("bravo", "BRAVO BRAVO BRAVO.")):
        cfg = load_config(None, {"data.train": str(_data(tmp_path / f"{name}.jsonl", answer)),
                                 "train.base": "default", "train.out": str(tmp_path / name),
                                 "train.max_steps": 12, "train.lr": 3e-3,
                                 "train.batch_size": 8, "train.warmup_steps": 1,
                                 "train.dtype": "float32", "lora.dropout": 0.0})
        result = train(cfg)
        registry.register(result.out_dir, name=name)

    engine = build_engine("default", registry=registry, dtype="float32", max_loaded=2)
    with running_server(engine) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, timeout=120)
        got: dict = {}

        def ask(model, q):
            got[(model, q)] = client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": q}], max_tokens=8,
                temperature=0).choices[0].message.content

        jobs = [(m, q) for q in QUESTIONS[:3] for m in ("alpha", "bravo", engine.base_name)]
        threads = [threading.Thread(target=ask, args=j) for j in jobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
    engine.shutdown()
    for (model, q), text in got.items():
        if model == "alpha":
            assert "ALPHA" in text and "BRAVO" not in text, (q, text)
        elif model == "bravo":
            assert "BRAVO" in text and "ALPHA" not in text, (q, text)
        else:
            assert "ALPHA" not in text and "BRAVO" not in text, (q, text)
    assert len(got) == len(jobs)
