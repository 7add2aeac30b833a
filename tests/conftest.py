"""Shared fixtures. Tests never reach a hub.

``tiny_base``: a randomly initialised 2-layer Llama with the real SmolLM2
tokenizer and chat template, saved as a normal HF folder (fast, for unit tests).
``default_base``: the embedded SmolLM2-135M-Instruct (for a few e2e tests).
Converted bases are cached in one shared models folder across runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("LORAKIT_MODELS", str(Path.home() / ".lorakit" / "models"))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own lorakit home (registry, runs), sharing the model cache."""
    monkeypatch.setenv("LORAKIT_HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.delenv("LORAKIT_REGISTRY", raising=False)


def _tokenizer():
    from transformers import AutoTokenizer

    from lorakit.core.models import SHIPPED, DEFAULT_BASE
    from lorakit.core.home import models_dir

    converted = models_dir() / DEFAULT_BASE
    if (converted / "tokenizer.json").exists():
        return AutoTokenizer.from_pretrained(converted)
    gguf = SHIPPED[DEFAULT_BASE].gguf()
    return AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    """A tiny random Llama + the real SmolLM2 tokenizer, as a HF folder."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny-base")
    tokenizer = _tokenizer()
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=2048, tie_word_embeddings=True,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_base):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_base)


@pytest.fixture(scope="session")
def default_base():
    """The embedded default base, converted once and cached (e2e tests only)."""
    from lorakit.core.models import resolve_base

    return resolve_base("default")
