"""Many adapters on one base: lorakit's mixed batching against swapping per request.

Eight LoRA adapters (rank 16, all linear layers, random lora_B so each really
changes the output) on the embedded default base answer 32 requests spread
evenly over them, all submitted at once. Measured, in generated tokens/s:

- mixed: lorakit's scheduler, one forward pass per step over every request,
  each row through its own adapter (continuous batching, shared KV cache);
- swap:  what a user writes by hand, one request at a time:
  ``model.set_adapter(name); model.generate(...)``;
- base:  the base alone through the same scheduler and batching.

Also the time to hot-load one more adapter into the running pool (median of
five loads). Every request generates exactly ``--tokens`` tokens (end-of-turn
is ignored) so the three paths do the same work. Greedy decoding.

    python benchmarks/serve_adapters.py --quick --json serve.json
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

PROMPTS = ["Summarise the plot of a heist movie in two sentences.",
           "What is the capital of France, and why is it famous?",
           "Write a haiku about autumn rain.", "Explain recursion to a child.",
           "List three uses of a paperclip.", "How do I reset a router?",
           "Translate 'good morning' into Spanish and German.",
           "Give me a tip for writing clean Python code."]


def make_adapters(base_path: Path, root: Path, n: int, rank: int) -> dict[str, Path]:
    """``n`` PEFT adapters on the base, each with its own random lora_B."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    folders = {}
    model = AutoModelForCausalLM.from_pretrained(base_path)
    peft_model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank,
                                                  target_modules="all-linear"))
    for i in range(n):
        gen = torch.Generator().manual_seed(i)
        with torch.no_grad():
            for name, param in peft_model.named_parameters():
                if "lora_B" in name:
                    param.copy_(torch.randn(param.shape, generator=gen) * 0.02)
        folders[f"ad{i}"] = root / f"ad{i}"
        peft_model.save_pretrained(folders[f"ad{i}"], safe_serialization=True)
    return folders


def requests(tokenizer, names: list[str], count: int) -> list[tuple[str, list[int]]]:
    from lorakit.serve.runtime import chat_prompt_ids

    return [(names[i % len(names)], chat_prompt_ids(
        tokenizer, [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}]))
        for i in range(count)]


def run_engine(engine, jobs, tokens: int) -> float:
    """All jobs at once through the scheduler; generated tokens/s."""
    from lorakit.serve.sampling import GenParams

    engine.stop_ids = set()  # fixed-length answers: equal work on every path
    done: queue.Queue = queue.Queue()
    start = time.perf_counter()
    for adapter, ids in jobs:
        engine.submit(adapter, ids, GenParams(max_tokens=tokens, temperature=0.0),
                      lambda ev: ev.kind != "delta" and done.put(ev))
    events = [done.get(timeout=1800) for _ in jobs]
    elapsed = time.perf_counter() - start
    bad = [e for e in events if e.kind != "done"]
    if bad:
        raise SystemExit(f"benchmark request failed: {bad[0].text}")
    return sum(e.usage["completion_tokens"] for e in events) / elapsed


def run_swap(base, folders: dict[str, Path], jobs, tokens: int, dtype, device) -> float:
    """One request at a time, switching adapters with set_adapter; tokens/s."""
    import torch

    from lorakit.adapters.load import load_with_adapters
    from lorakit.core.models import load_model

    model = load_with_adapters(load_model(base, dtype=dtype, device=device), folders).eval()
    generated, start = 0, time.perf_counter()
    with torch.inference_mode():
        for adapter, ids in jobs:
            model.set_adapter(adapter)
            x = torch.tensor([ids], device=device)
            out = model.generate(x, attention_mask=torch.ones_like(x), do_sample=False,
                                 max_new_tokens=tokens, min_new_tokens=tokens,
                                 pad_token_id=0)
            generated += out.shape[1] - x.shape[1]
    return generated / (time.perf_counter() - start)


def hot_load_ms(engine, folder: Path, times: int = 5) -> float:
    """Median wall time to load one more adapter into the running pool.

    Measured around the whole call (file checks, base check, reading the
    weights, handing over to the scheduler thread): what a request waits for.
    """
    loads = []
    for i in range(times):
        name = f"hot{i}"
        start = time.perf_counter()
        engine.call(lambda n=name: engine.pool.load(n, folder))
        loads.append((time.perf_counter() - start) * 1000)
        engine.call(lambda n=name: engine.pool.unload(n))
    return statistics.median(loads)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer tokens (under 5 minutes)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--adapters", type=int, default=8)
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=None, help="tokens per answer")
    parser.add_argument("--swap-requests", type=int, default=None,
                        help="requests timed on the swap path (a rate, so a subset is fair)")
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--base", default="default")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compare-peft", action="store_true",
                        help="also time PEFT's own adapter_names batching (printed only)")
    args = parser.parse_args(argv)
    tokens = args.tokens or (24 if args.quick else 64)
    swap_n = args.swap_requests or (args.adapters if args.quick else args.requests)

    from lorakit.adapters.registry import Registry
    from lorakit.core.device import pick_device, pick_dtype
    from lorakit.core.models import resolve_base
    from lorakit.serve.runtime import build_engine

    base = resolve_base(args.base)
    device = pick_device(args.device)
    dtype = pick_dtype(args.dtype, device)
    with tempfile.TemporaryDirectory() as tmp:
        folders = make_adapters(base.path, Path(tmp), args.adapters + 1, args.rank)
        extra = folders.pop(f"ad{args.adapters}")
        registry = Registry(Path(tmp) / "registry.db")

        extra_rates = {}
        for impl in (["stacked", "peft"] if args.compare_peft else ["stacked"]):
            engine = build_engine(str(base.path), adapters=folders, registry=registry,
                                  max_loaded=args.adapters + 1, dtype=args.dtype,
                                  device=str(device), max_batch=args.requests,
                                  lora_impl=impl)
            jobs = requests(engine.tokenizer, list(folders), args.requests)
            run_engine(engine, jobs[:2], 2)  # warm-up: first-call allocations
            extra_rates[impl] = run_engine(engine, jobs, tokens)
            extra_rates[impl + "_hot_load_ms"] = hot_load_ms(engine, extra)
            engine.shutdown()
        mixed, hot = extra_rates["stacked"], extra_rates["stacked_hot_load_ms"]

        plain = build_engine(str(base.path), registry=registry, dtype=args.dtype,
                             device=str(device), max_batch=args.requests)
        base_jobs = [("__base__", ids) for _, ids in jobs]
        run_engine(plain, base_jobs[:2], 2)
        base_rate = run_engine(plain, base_jobs, tokens)
        plain.shutdown()
        del engine, plain

        swap = run_swap(base, folders, jobs[:swap_n], tokens, dtype, device)

    figures = {"adapters": args.adapters, "mixed_tokens_per_s": round(mixed, 2),
               "swap_tokens_per_s": round(swap, 2), "base_tokens_per_s": round(base_rate, 2),
               "speedup_vs_swap": round(mixed / swap, 2),
               "mixed_vs_base": round(mixed / base_rate, 3), "hot_load_ms": round(hot, 1)}
    print(f"base {base.name}, {args.requests} requests x {tokens} tokens over "
          f"{args.adapters} adapters (rank {args.rank}), dtype {dtype}, "
          f"swap timed on {swap_n} requests, device {device}, {os.cpu_count()} CPUs",
          file=sys.stderr)
    if args.compare_peft:
        print(f"PEFT adapter_names batching: {extra_rates['peft']:.2f} tokens/s, hot-load "
              f"{extra_rates['peft_hot_load_ms']:.1f} ms", file=sys.stderr)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return figures


if __name__ == "__main__":
    main()
