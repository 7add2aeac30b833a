"""Builders for eval tests: PEFT adapters on the tiny base, with manifests.

Imported by the other test_eval*.py modules (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

ROWS = [
    ("What is two plus two?", "4"),
    ("Capital of France?", "Paris"),
    ("Is the sky green? Answer yes or no.", "no"),
    ("Say hello.", "hello"),
    ("Name a primary colour.", "red"),
    ("What is the opposite of up?", "down"),
]


def write_rows(path: Path, rows=ROWS, system: str | None = None) -> Path:
    with path.open("w") as fh:
        for question, answer in rows:
            messages = [{"role": "system", "content": system}] if system else []
            messages += [
                {"role": "user", "content": question},
                {"role": "assistant", "content": answer},
            ]
            fh.write(json.dumps({"messages": messages}) + "\n")
    return path


def make_adapter(
    base: Path,
    out: Path,
    scale: float = 0.0,
    seed: int = 1,
    template: str | None = None,
    steps: int = 8,
) -> Path:
    """A LoRA adapter on ``base``; ``scale`` 0 leaves lora_B at PEFT's zero init."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lorakit.core.config import Config
    from lorakit.core.manifest import Manifest
    from lorakit.core.models import weights_hash
    from lorakit.core.template import template_hash

    model = AutoModelForCausalLM.from_pretrained(base)
    peft = get_peft_model(
        model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "o_proj"])
    )
    if scale:
        gen = torch.Generator().manual_seed(seed)
        for name, param in peft.named_parameters():
            if "lora_B" in name:
                param.data = torch.randn(param.shape, generator=gen) * scale
    peft.save_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(base)
    Manifest(
        name=out.name,
        base_model={
            "name": str(base),
            "path": str(base),
            "weights_hash": weights_hash(base),
        },
        data={},
        config=Config().to_dict(),
        seed=0,
        template_hash=template or template_hash(tokenizer),
    ).save(out)
    lines = [
        {"step": s, "epoch": s / steps, "loss": 4.0 - s * 0.2 + scale, "lr": 1e-4}
        for s in range(1, steps + 1)
    ]
    lines[-1]["eval_loss"] = 3.0
    (out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return out


def make_other_base(tiny_base: Path, out: Path, chat_template: bool = True) -> Path:
    """A second tiny base: other weights, and optionally no chat template."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(7)
    model = AutoModelForCausalLM.from_config(
        AutoModelForCausalLM.from_pretrained(tiny_base).config
    )
    model.save_pretrained(out, safe_serialization=True)
    for f in tiny_base.iterdir():
        if f.name.startswith(("tokenizer", "special_tokens", "chat_template")):
            shutil.copy(f, out / f.name)
    if not chat_template:
        (out / "chat_template.jinja").unlink(missing_ok=True)
        config = json.loads((out / "tokenizer_config.json").read_text())
        config.pop("chat_template", None)
        (out / "tokenizer_config.json").write_text(json.dumps(config))
    return out
