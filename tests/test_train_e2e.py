"""End to end on the embedded default base: real PEFT loading reproduces what was learned."""

from __future__ import annotations

import json

import pytest

QUESTIONS = ["Where is my order?", "Can I return a helmet?", "Do you fix brakes?",
             "Are you open on Sunday?", "How much is a tune-up?", "Do you sell tubes?",
             "Can I rent a bike?", "Do you ship abroad?"]


@pytest.mark.e2e
def test_adapter_learns_a_sign_off_and_peft_reproduces_it(tmp_path, default_base):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lorakit.core.config import load_config
    from lorakit.core.manifest import read_manifest
    from lorakit.train.run import train

    rows = [{"messages": [{"role": "user", "content": q},
                          {"role": "assistant", "content": "Sure thing! Cheers, Pip."}]}
            for q in QUESTIONS]
    data = tmp_path / "t.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "adapter"
    cfg = load_config(None, {"data.train": str(data), "train.out": str(out),
                             "train.max_steps": 8, "train.epochs": 8, "train.lr": 2e-3})
    result = train(cfg)
    assert result.metrics["train_loss"] < 0.5

    # plain PEFT, no lorakit code: the base from adapter_config, then the adapter
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(default_base.path)
    tok = AutoTokenizer.from_pretrained(config["base_model_name_or_path"])
    base = AutoModelForCausalLM.from_pretrained(config["base_model_name_or_path"])
    model = PeftModel.from_pretrained(base, str(out)).eval()
    prompt = tok.apply_chat_template([{"role": "user", "content": "Do you sell gloves?"}],
                                     tokenize=False, add_generation_prompt=True)
    ids = tok(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        gen = model.generate(**ids, max_new_tokens=16, do_sample=False)
    reply = tok.decode(gen[0, ids["input_ids"].shape[1]:])
    assert "Cheers, Pip." in reply and "<|im_end|>" in reply  # learned the voice and to stop

    manifest = read_manifest(out)
    assert manifest.base_model["weights_hash"] == default_base.weights_hash()
    assert manifest.data["train"]["rows"] == len(QUESTIONS)
    assert manifest.data["tokens_sha256"].startswith("sha256:")
    assert manifest.config["train"]["lr"] == 2e-3 and manifest.template_hash.startswith("sha256")
    assert manifest.metrics["steps"] == 8
