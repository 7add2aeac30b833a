"""Adapters side by side: what the registry knows, and optionally their answers."""

from __future__ import annotations

from typing import Any

from lorakit.adapters.load import base_spec_for, check_record_base, load_with_adapters
from lorakit.adapters.registry import BASE_NAME, Registry
from lorakit.core.errors import LorakitError


def compare_adapters(names: list[str], prompts: list[str] | None = None,
                     registry: Registry | None = None, max_tokens: int = 64) -> dict[str, Any]:
    """Records of ``names``; with ``prompts``, each adapter's and the base's greedy answer.

    The answers come from one mixed batch (PEFT ``adapter_names``), so every
    adapter must share one base.
    """
    registry = registry if registry is not None else Registry()
    records = [registry.get(n) for n in names]
    result: dict[str, Any] = {"adapters": [r.to_dict() for r in records], "answers": []}
    if not prompts:
        return result
    hashes = {r.base_hash for r in records}
    if len(hashes) > 1:
        raise LorakitError("answers need adapters of one base; these differ",
                           fix="compare answers of adapters trained on the same base")
    result["answers"] = _answers(records, prompts, registry, max_tokens)
    return result


def _answers(records, prompts, registry, max_tokens) -> list[dict[str, Any]]:
    import torch

    from lorakit.core.models import load_model, load_tokenizer, resolve_base

    base = resolve_base(base_spec_for(registry, [records[0].name], {}))
    for r in records:
        check_record_base(r, base)
    tokenizer = load_tokenizer(base)
    tokenizer.padding_side = "left"
    model = load_with_adapters(load_model(base), {r.name: registry.resolve(r.name)
                                                  for r in records}, base=base).eval()
    who = [r.name for r in records] + [BASE_NAME]
    out = []
    for prompt in prompts:
        text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                             add_generation_prompt=True, tokenize=False)
        batch = tokenizer([text] * len(who), return_tensors="pt", padding=True)
        with torch.inference_mode():
            gen = model.generate(**batch, adapter_names=who, do_sample=False,
                                 max_new_tokens=max_tokens, pad_token_id=tokenizer.pad_token_id)
        texts = tokenizer.batch_decode(gen[:, batch["input_ids"].shape[1]:],
                                       skip_special_tokens=True)
        out.append({"prompt": prompt, "outputs": {("base" if w == BASE_NAME else w): t.strip()
                                                  for w, t in zip(who, texts)}})
    return out
