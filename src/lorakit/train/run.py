"""`train(cfg)`: one run, from preflight to a PEFT adapter folder with its manifest."""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from lorakit.core.config import Config
from lorakit.core.device import pick_device, pick_dtype, setup_threads
from lorakit.core.errors import LorakitError
from lorakit.core.io import file_sha256
from lorakit.core.manifest import Manifest, versions
from lorakit.core.progress import peak_rss_gb, rss_gb
from lorakit.train import batching, checkpoint, loop
from lorakit.train.distributed import Dist
from lorakit.train.metrics import MetricsLog
from lorakit.train.preflight import PreflightReport, preflight


@dataclass
class TrainResult:
    """Where the adapter is and how the run went."""

    out_dir: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    steps: int = 0
    interrupted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"out_dir": str(self.out_dir), "metrics": self.metrics, "steps": self.steps,
                "interrupted": self.interrupted}


class _Interrupt:
    """Ctrl-C asks for a checkpoint at the end of the current step; a second one aborts."""

    def __init__(self) -> None:
        self.requested = False
        self._old = None

    def __enter__(self) -> "_Interrupt":
        try:
            self._old = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: Ctrl-C stays the default
            self._old = None
        return self

    def _handle(self, *_: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\ninterrupt: saving a checkpoint after this step (Ctrl-C again to abort)",
              file=sys.stderr, flush=True)

    def __exit__(self, *_: Any) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def train(cfg: Config, report: PreflightReport | None = None,
          echo: Callable[[str], None] | None = None) -> TrainResult:
    """Preflight, then train a LoRA adapter into ``report.out``; rank 0 alone writes."""
    device = pick_device(cfg.train.device)
    dist = Dist.from_env(device)
    say = (echo or (lambda m: print(m, file=sys.stderr, flush=True))) if dist.main else _quiet
    report = report or preflight(cfg)
    if not report.ok:
        raise LorakitError("preflight found problems:\n  " + "\n  ".join(report.errors),
                           fix="fix the data or config above; `lorakit train --dry-run` "
                               "re-checks without training")
    for warning in report.warnings:
        say(f"warning: {warning}")

    # threads split between the processes sharing this machine
    if dist.local_world > 1:
        os.environ.setdefault("LORAKIT_THREADS", str(max(1, (os.cpu_count() or 1)
                                                         // dist.local_world)))
    threads = setup_threads()
    dtype = pick_dtype(cfg.train.dtype, device)
    out = Path(report.out)
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
        if not cfg.train.resume:  # --overwrite: an old run's checkpoints must not be resumed
            checkpoint.remove_all(out)
    dist.barrier()
    backend = "one process" if dist.world == 1 else (
        "gloo" if device.type == "cpu" else "nccl")
    say(f"run: world size {dist.world} ({backend}), {threads} threads/process, {device} "
        f"{str(dtype).replace('torch.', '')}")

    model = loop.build_model(cfg, report.base_obj, dtype, device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    plan = _plan(report, cfg)
    start, state = _maybe_resume(cfg, out, model, optimizer, say)
    log = MetricsLog(out, enabled=dist.main, tensorboard=cfg.train.tensorboard,
                     resume_step=start if cfg.train.resume else None)
    try:
        result = _loop(cfg, report, model, optimizer, params, plan, start, state, log, dist,
                       device, say)
    finally:
        log.close()
    if not result.interrupted and dist.main:
        _finish(cfg, report, model, out, result)
        say(_summary(result))
    dist.barrier()
    dist.close()
    return result


def _quiet(_: str) -> None:
    return None


def _plan(report: PreflightReport, cfg: Config) -> list[tuple[float, batching.Step]]:
    """Every step of the run as (epoch reached after it, step), cut at ``max_steps``."""
    rows = batching.usable(report.rendered)
    plan = []
    for epoch in range(cfg.train.epochs):
        steps = batching.plan_epoch(report.rendered, rows, cfg.train.seed, epoch,
                                    cfg.train.tokens_per_step, cfg.train.batch_size)
        plan += [(round(epoch + (i + 1) / len(steps), 3), s) for i, s in enumerate(steps)]
    return plan[: cfg.train.max_steps] if cfg.train.max_steps else plan


def _maybe_resume(cfg: Config, out: Path, model, optimizer, say) -> tuple[int, dict[str, Any]]:
    if not cfg.train.resume:
        return 0, {}
    last = checkpoint.find_last(out, warn=say)
    if last is None:
        say(f"resume: no complete checkpoint in {out}; starting from step 0")
        return 0, {}
    state = checkpoint.load_checkpoint(model, optimizer, last)
    say(f"resume: continuing from {last.name}")
    return int(state["step"]), state


def _eval_every(cfg: Config, total: int) -> int:
    return cfg.train.eval_every or max(1, total // 4)


def _loop(cfg, report, model, optimizer, params, plan, start, state, log, dist, device,
          say) -> TrainResult:
    from tqdm import tqdm

    pad_id = report.tokenizer.pad_token_id
    total, every = len(plan), _eval_every(cfg, len(plan))
    elapsed0 = float(state.get("elapsed_s", 0.0))
    tokens = int(state.get("tokens", 0))
    train_s = float(state.get("train_s", 0.0))  # forward/backward/update only, no eval
    metrics: dict[str, Any] = dict(state.get("metrics", {}))
    if start == 0 and report.eval_rendered:
        metrics["base_eval_loss"] = loop.evaluate(model, report.eval_rendered, pad_id, device,
                                                  dist)
    bar = tqdm(total=total, initial=start, disable=not dist.main, unit="step",
               dynamic_ncols=True, file=sys.stderr)
    t0 = time.perf_counter()
    model.train()
    step = start
    with _Interrupt() as interrupt:
        for step in range(start, total):
            epoch, planned = plan[step]

            # one optimizer step over the global batch, this rank's share of it
            tick = time.perf_counter()
            torch.manual_seed(loop.step_seed(cfg.train.seed, step, dist.rank))
            lr = loop.lr_at(step, total, cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr
            rows = batching.shard(planned, dist.rank, dist.world)
            loss_sum = loop.train_step(model, report.rendered, rows, planned.n_trained, pad_id,
                                       device)
            dist.sum_grads(params)
            torch.nn.utils.clip_grad_norm_(params, cfg.train.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

            # log: loss is the mean over every trained token of the global step
            loss = float(dist.sum_(torch.tensor([loss_sum], dtype=torch.float64))[0])
            loss /= planned.n_trained
            tokens += planned.n_tokens
            seconds = time.perf_counter() - tick
            train_s += seconds
            row = {"step": step + 1, "epoch": epoch,
                   "loss": round(loss, 5), "lr": lr, "tokens": tokens,
                   "tokens_per_s": round(planned.n_tokens / seconds, 1),
                   "elapsed_s": round(elapsed0 + time.perf_counter() - t0, 2),
                   "memory_gb": round(rss_gb(), 2)}
            if report.eval_rendered and ((step + 1) % every == 0 or step + 1 == total):
                row["eval_loss"] = round(loop.evaluate(model, report.eval_rendered, pad_id,
                                                       device, dist), 5)
                metrics["eval_loss"] = row["eval_loss"]
            metrics["train_loss"] = row["loss"]
            log.log(row)
            bar.set_postfix_str(_postfix(row, metrics), refresh=False)
            bar.update(1)

            # checkpoints: on schedule, and when any rank was asked to stop
            stop = dist.any_(interrupt.requested)
            due = cfg.train.save_every and (step + 1) % cfg.train.save_every == 0
            if (due and step + 1 < total) or stop:
                _save(model, optimizer, report, step + 1,
                      {"epoch": epoch, "tokens": tokens, "train_s": train_s, "metrics": metrics,
                       "elapsed_s": elapsed0 + time.perf_counter() - t0}, dist)
            if stop:
                bar.close()
                say(f"interrupted: checkpoint-{step + 1} saved in {report.out}; continue with "
                    "the same command plus --resume")
                return TrainResult(Path(report.out), metrics, step + 1, interrupted=True)
    bar.close()
    elapsed = elapsed0 + time.perf_counter() - t0
    metrics.update({"steps": total, "tokens": tokens, "elapsed_s": round(elapsed, 2),
                    "train_s": round(train_s, 2),
                    "tokens_per_s": round(tokens / max(train_s, 1e-9), 1),
                    "peak_memory_gb": round(peak_rss_gb(), 2), "world_size": dist.world})
    return TrainResult(Path(report.out), metrics, total)


def _postfix(row: dict[str, Any], metrics: dict[str, Any]) -> str:
    text = f"loss {row['loss']:.3f}"
    if "eval_loss" in metrics:
        text += f" eval {metrics['eval_loss']:.3f}"
    return text + (f" lr {row['lr']:.1e} {row['tokens_per_s']:.0f} tok/s "
                   f"mem {row['memory_gb']:.1f}GiB")


def _save(model, optimizer, report, step, state, dist) -> None:
    if dist.main:
        checkpoint.save_checkpoint(model, optimizer, Path(report.out), step, state,
                                   str(report.base_obj.path))
    dist.barrier()


def _finish(cfg: Config, report: PreflightReport, model, out: Path, result: TrainResult) -> None:
    """Publish the adapter, then the manifest that says what made it."""
    checkpoint.publish_adapter(model, out, str(report.base_obj.path))
    data = {"train": _fingerprint(cfg.data.train, report.rows),
            "eval": _fingerprint(cfg.data.eval, report.eval_rows) if cfg.data.eval else None,
            "tokens_sha256": batching.tokens_fingerprint(report.rendered)}
    base = report.base_obj
    manifest = Manifest(
        name=cfg.train.name or out.name,
        base_model={"name": base.name, "path": str(base.path),
                    "weights_hash": base.weights_hash()},
        data=data, config=cfg.to_dict(), seed=cfg.train.seed,
        template_hash=report.template_hash, versions=versions(), metrics=result.metrics)
    manifest.save(out)


def _fingerprint(path: str, rows: int) -> dict[str, Any]:
    return {"path": str(Path(path).resolve()), "sha256": file_sha256(path), "rows": rows}


def _summary(result: TrainResult) -> str:
    m = result.metrics
    text = (f"done: {m['steps']} steps, {m['tokens']:,} tokens in {m['elapsed_s']:.0f}s "
            f"({m['tokens_per_s']:.0f} tok/s), final loss {m.get('train_loss', 0):.3f}")
    if m.get("eval_loss") is not None:
        base = m.get("base_eval_loss")
        text += f", eval loss {m['eval_loss']:.3f}" + (f" (base {base:.3f})" if base else "")
    return text + f", peak memory {m['peak_memory_gb']:.1f} GiB\nadapter: {result.out_dir}"
