"""Merge an adapter into its base: a plain Hugging Face model folder, checked.

The merged folder is written to a temporary folder, reloaded from disk, and
its logits and greedy outputs on a few prompts are compared with the
unmerged adapter's before it is moved into place; the largest logit
difference is reported. A mismatch beyond the tolerance is an error and
nothing is written.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from lorakit.adapters.load import (base_spec_for, check_base_match, check_record_base,
                                   verify_adapter_files)
from lorakit.adapters.registry import Registry
from lorakit.core.errors import LorakitError
from lorakit.core.io import atomic_replace_dir, atomic_write_json

CHECK_PROMPTS = ["Hello! Who are you?", "Write one sentence about the sea.",
                 "What is 12 times 7?"]


def merge_adapter(adapter: str, out: str | Path, base: str | None = None,
                  registry: Registry | None = None, prompts: list[str] | None = None,
                  max_new_tokens: int = 16, tolerance: float = 1e-3) -> dict[str, Any]:
    """Write ``adapter`` merged into its base to ``out``; return the check's figures."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from lorakit.core.models import load_model, load_tokenizer, resolve_base

    # find the adapter and its base, with the same checks serving does
    registry = registry if registry is not None else Registry()
    folder = registry.resolve(adapter)
    verify_adapter_files(folder)
    record = registry.find(adapter)
    resolved = resolve_base(base or base_spec_for(registry, [adapter] if record else [],
                                                  {"x": folder}))
    check_base_match(folder, resolved)
    if record is not None:
        check_record_base(record, resolved)
    out = Path(out).expanduser()
    if out.exists() and any(out.iterdir()):
        raise LorakitError("output folder exists and is not empty", path=out,
                           fix="pick a new --out folder, or remove this one")

    # the adapter's own outputs first: the reference the merged model must match
    tokenizer = load_tokenizer(resolved)
    model = load_model(resolved, dtype=torch.float32)
    peft_model = PeftModel.from_pretrained(model, str(folder), is_trainable=False).eval()
    batches = [_prompt_ids(tokenizer, p) for p in (prompts or CHECK_PROMPTS)]
    with torch.inference_mode():
        want = [_outputs(peft_model, ids, max_new_tokens) for ids in batches]
        merged = peft_model.merge_and_unload()

    # write, reload from disk, compare: checks the saved files, not only memory
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    merged.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    reloaded = AutoModelForCausalLM.from_pretrained(tmp, dtype=torch.float32,
                                                    use_safetensors=True).eval()
    with torch.inference_mode():
        got = [_outputs(reloaded, ids, max_new_tokens) for ids in batches]
    max_diff = max(float((w[0] - g[0]).abs().max()) for w, g in zip(want, got))
    same_greedy = sum(w[1] == g[1] for w, g in zip(want, got))
    report = {"adapter": adapter, "adapter_path": str(folder), "base": resolved.name,
              "out": str(out), "prompts": len(batches), "max_logit_diff": max_diff,
              "greedy_match": f"{same_greedy}/{len(batches)}", "tolerance": tolerance}
    if max_diff > tolerance or same_greedy != len(batches):
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        raise LorakitError(f"merged model does not match the adapter (max logit difference "
                           f"{max_diff:.2e}, greedy {report['greedy_match']})", path=folder,
                           fix="serve the adapter unmerged, or report this with the folder")
    atomic_write_json(tmp / "lorakit_merge.json", report)
    atomic_replace_dir(tmp, out)
    return report


def _prompt_ids(tokenizer, prompt: str):
    import torch

    ids = tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                        add_generation_prompt=True, tokenize=True)
    if hasattr(ids, "keys"):
        ids = ids["input_ids"]
    return torch.tensor([list(ids)])


def _outputs(model, ids, max_new_tokens: int):
    """(last-position logits of the prompt, greedy continuation ids)."""
    import torch

    logits = model(input_ids=ids).logits[0, -1].float()
    gen = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                         max_new_tokens=max_new_tokens, pad_token_id=0)
    return logits, gen[0, ids.shape[1]:].tolist()
