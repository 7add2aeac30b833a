"""lorakit train vs TRL SFTTrainer + PEFT: same base, data, LoRA, length limit, tokens/step, epochs.

Each tool trains in its own child process (so peak memory is its own), then
both adapters are scored by the same held-out loss function (assistant
tokens only, the lorakit mask). TRL gets its best options on this CPU: bf16
weights and autocast, no gradient checkpointing, prompt/completion loss. Its
packing and padding-free modes are left off: TRL documents them as correct
only with FlashAttention, which a CPU does not have (they would let
examples attend to each other), so it pads per batch.

    python benchmarks/train_vs_trl.py --quick --json bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "examples" / "support" / "train.jsonl"
HELDOUT = ROOT / "examples" / "support" / "heldout.jsonl"
RANK, ALPHA, DROPOUT, LR, WARMUP, SEED = 16, 32, 0.05, 1e-3, 5, 0
MAX_TOKENS, TOKENS_PER_STEP = 2048, 2048


def _subset(path: Path, n: int | None, folder: Path) -> Path:
    lines = [x for x in path.read_text().splitlines() if x.strip()]
    out = folder / path.name
    out.write_text("\n".join(lines[:n] if n else lines) + "\n")
    return out


def _rendered(tokenizer, path: Path):
    from lorakit.core.template import render
    from lorakit.data import load_examples

    return [render(tokenizer, e.to_chat(), MAX_TOKENS) for e in load_examples(path)]


def child_lorakit(args) -> dict:
    from lorakit.core.config import load_config
    from lorakit.train.run import train

    cfg = load_config(None, {
        "data.train": args.train, "data.max_tokens": MAX_TOKENS, "train.out": args.out,
        "train.epochs": args.epochs, "train.lr": LR, "train.tokens_per_step": TOKENS_PER_STEP,
        "train.batch_size": 64, "train.warmup_steps": WARMUP, "train.seed": SEED,
        "lora.rank": RANK, "lora.alpha": ALPHA, "lora.dropout": DROPOUT, "train.overwrite": True})
    result = train(cfg)
    return {"tokens": result.metrics["tokens"], "train_s": result.metrics["train_s"],
            "steps": result.metrics["steps"]}


def child_trl(args) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from lorakit.core.device import setup_threads
    from lorakit.core.models import resolve_base
    from lorakit.data import load_examples

    setup_threads()
    base = resolve_base("default")
    tokenizer = AutoTokenizer.from_pretrained(base.path)
    examples = load_examples(args.train)
    rendered = _rendered(tokenizer, Path(args.train))
    mean = sum(r.n_tokens for r in rendered) / len(rendered)
    # the same real tokens per optimizer step as lorakit (rows of mean length)
    batch = max(1, round(TOKENS_PER_STEP / mean))
    rows = [{"prompt": e.to_chat()[:-1], "completion": e.to_chat()[-1:]} for e in examples]
    model = AutoModelForCausalLM.from_pretrained(base.path, dtype=torch.bfloat16)
    config = SFTConfig(
        output_dir=args.out, max_length=MAX_TOKENS, per_device_train_batch_size=batch,
        gradient_accumulation_steps=1, num_train_epochs=args.epochs, learning_rate=LR,
        lr_scheduler_type="cosine", warmup_steps=WARMUP, weight_decay=0.0, max_grad_norm=1.0,
        bf16=True, use_cpu=True, gradient_checkpointing=False, packing=False,
        padding_free=False, completion_only_loss=True, save_strategy="no", report_to="none",
        logging_steps=1, seed=SEED, dataloader_num_workers=0, disable_tqdm=True)
    lora = LoraConfig(r=RANK, lora_alpha=ALPHA, lora_dropout=DROPOUT,
                      target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows),
                         processing_class=tokenizer, peft_config=lora)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    trainer.model.save_pretrained(args.out)
    tokens = sum(r.n_tokens for r in rendered) * args.epochs
    return {"tokens": tokens, "train_s": seconds, "steps": trainer.state.global_step,
            "batch_rows": batch}


def eval_loss(adapter: str, heldout: str) -> float:
    """Held-out loss per assistant token, the same function for both adapters."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lorakit.core.models import resolve_base
    from lorakit.train.distributed import Dist
    from lorakit.train.loop import evaluate

    base = resolve_base("default")
    tokenizer = AutoTokenizer.from_pretrained(base.path)
    model = AutoModelForCausalLM.from_pretrained(base.path, dtype=torch.bfloat16)
    model = PeftModel.from_pretrained(model, adapter)
    return evaluate(model, _rendered(tokenizer, Path(heldout)), tokenizer.pad_token_id,
                    torch.device("cpu"), Dist())


def matmul_peak(seconds: float = 2.0) -> float:
    """bf16 matmul FLOP/s measured here, the denominator of MFU."""
    import torch

    from lorakit.core.device import setup_threads

    setup_threads()
    n = 2048
    a, b = torch.randn(n, n, dtype=torch.bfloat16), torch.randn(n, n, dtype=torch.bfloat16)
    a @ b
    start, reps = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        a @ b
        reps += 1
    return 2 * n**3 * reps / (time.perf_counter() - start)


def _child(tool: str, train: Path, out: Path, epochs: int) -> dict:
    res = subprocess.run([sys.executable, __file__, "--child", tool, "--train", str(train),
                          "--out", str(out), "--epochs", str(epochs)],
                         capture_output=True, text=True, env={**os.environ})
    if res.returncode != 0:
        raise SystemExit(f"{tool} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="48 rows, 1 epoch (< 5 minutes)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--child", choices=["lorakit", "trl"], help=argparse.SUPPRESS)
    parser.add_argument("--train", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.child:
        from lorakit.core.progress import peak_rss_gb

        out = (child_lorakit if args.child == "lorakit" else child_trl)(args)
        out["peak_memory_gb"] = round(peak_rss_gb(), 2)
        print(json.dumps(out))
        return

    epochs = 1 if args.quick else args.epochs
    work = Path(tempfile.mkdtemp(prefix="lorakit-bench-"))
    train = _subset(TRAIN, 48 if args.quick else None, work)
    heldout = _subset(HELDOUT, 16 if args.quick else None, work)
    figures = {}
    for tool in ("lorakit", "trl"):
        run = _child(tool, train, work / tool, epochs)
        run["tokens_per_s"] = run["tokens"] / run["train_s"]
        run["eval_loss"] = eval_loss(str(work / tool), str(heldout))
        figures[tool] = run
        print(f"{tool}: {run['tokens_per_s']:.0f} real tok/s ({run['tokens']} tokens, "
              f"{run['steps']} steps, {run['train_s']:.0f}s), held-out loss "
              f"{run['eval_loss']:.4f}, peak memory {run['peak_memory_gb']:.2f} GiB",
              file=sys.stderr)
    from lorakit.core.models import resolve_base
    from lorakit.train.preflight import _safetensors_shapes, _prod

    n_params = sum(_prod(s) for s in _safetensors_shapes(resolve_base("default").path).values())
    peak = matmul_peak()
    lk, trl = figures["lorakit"], figures["trl"]
    result = {
        "lorakit_tokens_per_s": round(lk["tokens_per_s"], 1),
        "trl_tokens_per_s": round(trl["tokens_per_s"], 1),
        "speedup": round(lk["tokens_per_s"] / trl["tokens_per_s"], 2),
        "lorakit_eval_loss": round(lk["eval_loss"], 4), "trl_eval_loss": round(trl["eval_loss"], 4),
        "mfu": round(lk["tokens_per_s"] * 4 * n_params / peak, 4),
        "bf16_peak_tflops": round(peak / 1e12, 3), "params": n_params, "epochs": epochs,
        "rows": len(train.read_text().splitlines()), "details": figures,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
