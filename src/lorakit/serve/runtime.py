"""Build a running engine (base + adapter pool + scheduler) and render prompts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lorakit.adapters.load import base_spec_for as infer_base  # noqa: F401 - re-exported
from lorakit.adapters.registry import BASE_NAME, Registry
from lorakit.core.errors import LorakitError
from lorakit.core.models import ALIASES, load_model, load_tokenizer, resolve_base
from lorakit.serve.pool import AdapterPool
from lorakit.serve.scheduler import Engine
from lorakit.serve.stacked import StackedPool

POOLS = {"stacked": StackedPool, "peft": AdapterPool}


def build_engine(base: str | None = "default", adapters: dict[str, str | Path] | None = None,
                 registry: Registry | None = None, max_loaded: int = 8, dtype: str = "auto",
                 device: str = "auto", preload: bool = True, lora_impl: str = "stacked",
                 **limits: Any) -> Engine:
    """Load the base once, wrap it in an adapter pool, start the scheduler thread.

    ``adapters`` maps a name to a folder (``--adapter NAME=DIR``); every other
    registered adapter is loaded on first use. ``limits`` go to ``Engine``
    (max_batch, queue_limit, max_prompt_tokens, max_new_tokens, timeout_s).
    ``lora_impl``: "stacked" (lorakit's own mixed-batch LoRA, faster) or "peft"
    (PEFT's per-row ``adapter_names``; supports DoRA and other PEFT variants).
    """
    from lorakit.core.device import pick_device, pick_dtype, setup_threads

    setup_threads()
    resolved = resolve_base(base)
    dev = pick_device(device)
    model = load_model(resolved, dtype=pick_dtype(dtype, dev), device=dev,
                       trust_remote_code=False)
    model.eval()
    tokenizer = load_tokenizer(resolved)
    if lora_impl not in POOLS:
        raise LorakitError(f"--lora-impl {lora_impl!r} is not one of {sorted(POOLS)}")
    pool = POOLS[lora_impl](model, resolved, registry if registry is not None else Registry(),
                       folders=adapters, max_loaded=max_loaded)
    if preload:
        # adapters named on the command line load now, so a bad one fails at start
        for name in list(pool.folders)[:max_loaded]:
            pool.load(name)
    return Engine(pool, tokenizer, resolved.name, device=str(dev), **limits).start()


def model_for(engine: Engine, model: str) -> str:
    """The request's ``model`` field to an adapter name (``__base__`` for the base)."""
    if model in (engine.base_name, BASE_NAME, "base") or ALIASES.get(model) == engine.base_name:
        return BASE_NAME
    if engine.pool.known(model):
        return model
    raise LorakitError(f"model {model!r} is not the base or a known adapter")


def chat_prompt_ids(tokenizer, messages: list[dict[str, str]]) -> list[int]:
    """Token ids of a conversation through the base's own chat template."""
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    if hasattr(ids, "keys"):  # transformers 5 may hand back a BatchEncoding
        ids = ids["input_ids"]
    return list(ids)


def text_prompt_ids(tokenizer, prompt: str) -> list[int]:
    return list(tokenizer(prompt, add_special_tokens=False)["input_ids"])

