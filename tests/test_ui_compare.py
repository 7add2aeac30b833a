"""Compare: base and adapters in one mixed batch give what each gives alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from lorakit.adapters.registry import Registry
from lorakit.core.errors import UsageError
from lorakit.ui.compare import Comparer


def make_adapter(tiny_base: Path, folder: Path, seed: int) -> Path:
    """A PEFT LoRA adapter on the tiny base whose lora_B is perturbed (so it differs)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_base)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=[
        "q_proj", "v_proj"]))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.5)
    peft_model.save_pretrained(folder, safe_serialization=True)
    return folder


def make_registry(tmp_path: Path, tiny_base: Path) -> Registry:
    registry = Registry(tmp_path / "registry.db")
    for name, seed in (("alpha", 1), ("beta", 2)):
        registry.register(make_adapter(tiny_base, tmp_path / name, seed), name=name,
                          base=str(tiny_base))
    return registry


def test_mixed_batch_matches_each_alone(tmp_path, tiny_base):
    comparer = Comparer(make_registry(tmp_path, tiny_base))
    together = comparer.run("How do I reset my password?", ["alpha", "beta"],
                            max_new_tokens=6)
    texts = {o["name"]: o["text"] for o in together["outputs"]}
    assert list(texts) == ["base", "alpha", "beta"]
    for name in ("alpha", "beta"):
        alone = comparer.run("How do I reset my password?", [name], include_base=False,
                             max_new_tokens=6)
        assert alone["outputs"][0]["text"] == texts[name]
    base_alone = comparer.run("How do I reset my password?", [], max_new_tokens=6)
    assert base_alone["outputs"][0]["text"] == texts["base"]
    assert texts["alpha"] != texts["base"]  # the perturbed adapter changes the output
    assert all(0 < o["new_tokens"] <= 6 for o in together["outputs"])


def test_compare_refuses_empty_prompt_and_caps_tokens(tmp_path, tiny_base, monkeypatch):
    monkeypatch.setattr("lorakit.ui.compare.MAX_NEW_TOKENS", 12)
    comparer = Comparer(Registry(tmp_path / "r.db"), base=str(tiny_base))
    with pytest.raises(UsageError):
        comparer.run("  ", [])
    out = comparer.run("hi", [], max_new_tokens=10_000)
    assert out["max_new_tokens"] == 12 and out["outputs"][0]["new_tokens"] <= 12
