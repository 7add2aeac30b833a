"""Preflight: render the training set exactly as the run will, and report what would fail silently.

Before any compute is spent: tokens per row and in total, the share of tokens
trained, rows that train nothing, assistant turns cut by the length limit,
trained turns that do not end with the end-of-turn token (the model would
never learn to stop), the chat template's hash, an estimate of time per epoch
and peak memory, and whether the output folder can take the run. Errors stop
the run; warnings are shown.
"""

from __future__ import annotations

import json
import shutil
import statistics
import struct
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lorakit.core.config import Config
from lorakit.core.errors import LorakitError, UsageError
from lorakit.core.home import runs_dir
from lorakit.core.models import Base, load_tokenizer, resolve_base
from lorakit.core.template import Rendered, end_of_turn_ids, render, template_hash
from lorakit.train import batching

# an assumed share of the measured bf16 matmul peak that training reaches, used
# only for the time estimate: benchmarks/train_vs_trl.py measured about 0.29 on an
# idle machine; a little lower here to leave room for eval passes and load
ASSUMED_MFU = 0.25
LIST_LIMIT = 5  # rows named per finding


@dataclass
class PreflightReport:
    """What the run will train on, and what is wrong with it."""

    base: str
    template_hash: str
    rows: int
    tokens: int
    trained_tokens: int
    tokens_per_row: dict[str, float]
    eval_rows: int = 0
    steps_per_epoch: int = 0
    epochs: int = 0
    est_seconds_per_epoch: float | None = None
    est_peak_memory_gb: float | None = None
    out: str = ""
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # what the run reuses (not part of the report)
    rendered: list[Rendered] = field(default_factory=list, repr=False)
    eval_rendered: list[Rendered] = field(default_factory=list, repr=False)
    base_obj: Base | None = field(default=None, repr=False)
    tokenizer: Any = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def trained_share(self) -> float:
        return self.trained_tokens / self.tokens if self.tokens else 0.0

    def to_dict(self) -> dict[str, Any]:
        keys = ["base", "template_hash", "rows", "tokens", "trained_tokens", "tokens_per_row",
                "eval_rows", "steps_per_epoch", "epochs", "est_seconds_per_epoch",
                "est_peak_memory_gb", "out", "errors", "warnings"]
        out = {k: getattr(self, k) for k in keys}
        out["trained_share"] = round(self.trained_share, 4)
        out["ok"] = self.ok
        return out

    def text(self) -> str:
        t = self.tokens_per_row
        lines = [
            f"preflight: base {self.base}, template {self.template_hash}",
            f"  rows {self.rows} (eval {self.eval_rows}), tokens {self.tokens:,} "
            f"(per row min {t['min']:.0f} / median {t['median']:.0f} / max {t['max']:.0f}), "
            f"trained {self.trained_tokens:,} ({self.trained_share:.0%})",
            f"  {self.steps_per_epoch} steps/epoch x {self.epochs} epochs"
            + (f", about {_duration(self.est_seconds_per_epoch)} per epoch"
               if self.est_seconds_per_epoch else "")
            + (f", peak memory about {self.est_peak_memory_gb:.1f} GiB"
               if self.est_peak_memory_gb else ""),
            f"  output: {self.out}",
        ]
        lines += [f"  warning: {w}" for w in self.warnings]
        lines += [f"  error: {e}" for e in self.errors]
        if not self.errors:
            lines.append("  preflight ok" + (" (with warnings)" if self.warnings else ""))
        return "\n".join(lines)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.1f} min"


def out_dir(cfg: Config) -> Path:
    """Where the adapter goes: ``train.out``, else ``$LORAKIT_HOME/runs/<data name>``."""
    if cfg.train.out:
        return Path(cfg.train.out).expanduser()
    stem = Path(cfg.data.train or "run").stem
    return runs_dir() / (cfg.train.name or stem)


def preflight(cfg: Config) -> PreflightReport:
    """Render the data through the run's tokenizer, template and mask; report problems."""
    from lorakit.data import load_examples

    if not cfg.data.train:
        raise UsageError("no training data given", fix="pass --data FILE.jsonl "
                         "(or set data.train in the config)")
    base = resolve_base(cfg.train.base)
    tokenizer = load_tokenizer(base, trust_remote_code=cfg.train.trust_remote_code)
    eot = end_of_turn_ids(tokenizer)

    # render every row exactly as the run will
    examples = load_examples(cfg.data.train)
    if not examples:
        raise LorakitError("the training file has no rows", path=cfg.data.train)
    rendered = [render(tokenizer, e.to_chat(), cfg.data.max_tokens, eot) for e in examples]
    eval_examples = load_examples(cfg.data.eval) if cfg.data.eval else []
    eval_rendered = [render(tokenizer, e.to_chat(), cfg.data.max_tokens, eot)
                     for e in eval_examples]

    lengths = [r.n_tokens for r in rendered]
    report = PreflightReport(
        base=base.name, template_hash=template_hash(tokenizer), rows=len(rendered),
        tokens=sum(lengths), trained_tokens=sum(r.n_trained for r in rendered),
        tokens_per_row={"min": min(lengths), "median": statistics.median(lengths),
                        "max": max(lengths), "mean": sum(lengths) / len(lengths)},
        eval_rows=len(eval_rendered), epochs=cfg.train.epochs, out=str(out_dir(cfg)),
        rendered=rendered, eval_rendered=eval_rendered, base_obj=base, tokenizer=tokenizer)
    _check_rows(report, examples, rendered, cfg)
    _check_eval(report, eval_examples, eval_rendered)
    _estimate(report, cfg, base)
    _check_output(report, cfg)
    return report


def _lines(examples, indices: list[int]) -> str:
    named = [f"{Path(examples[i].path or '').name}:{examples[i].line}" for i in indices[:LIST_LIMIT]]
    more = f" and {len(indices) - LIST_LIMIT} more" if len(indices) > LIST_LIMIT else ""
    return ", ".join(named) + more


def _check_rows(report: PreflightReport, examples, rendered: list[Rendered], cfg: Config) -> None:
    usable = set(batching.usable(rendered))
    zero = [i for i in range(len(rendered)) if i not in usable]
    if not usable:
        report.errors.append("no row trains any token (no assistant turn survives the "
                             "template and length limit); fix: add assistant replies")
    elif zero:
        report.warnings.append(f"{len(zero)} row(s) train zero tokens and are skipped: "
                               f"{_lines(examples, zero)} (no assistant turn, or it lies "
                               "past data.max_tokens)")
    cut = [i for i, r in enumerate(rendered) if r.truncated_turns]
    if cut:
        report.warnings.append(
            f"{sum(rendered[i].truncated_turns for i in cut)} assistant turn(s) in {len(cut)} "
            f"row(s) are cut by data.max_tokens={cfg.data.max_tokens}: {_lines(examples, cut)}; "
            "the model learns answers that stop mid-way; fix: raise --max-tokens or shorten")
    # a complete trained turn must end with end-of-turn, or the model never learns to stop
    no_eot = [i for i, r in enumerate(rendered)
              if r.turns_ending_eot < len(r.spans) - r.truncated_turns]
    if no_eot:
        report.errors.append(
            f"{len(no_eot)} row(s) have trained assistant turns that do not end with the "
            f"end-of-turn token: {_lines(examples, no_eot)}; the adapter would never learn to "
            "stop; fix: use a chat template that closes each assistant turn with an "
            "end-of-turn token (chat_template.jinja in the base folder)")


def _check_eval(report: PreflightReport, examples, rendered: list[Rendered]) -> None:
    if examples and not batching.usable(rendered):
        report.errors.append("no eval row has a trained token, so eval loss is undefined; "
                             "fix: eval rows need assistant replies")


def _safetensors_shapes(folder: Path) -> dict[str, list[int]]:
    shapes: dict[str, list[int]] = {}
    for f in sorted(folder.glob("*.safetensors")):
        with f.open("rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(n))
        shapes.update({k: v["shape"] for k, v in header.items() if k != "__metadata__"})
    return shapes


def lora_param_count(shapes: dict[str, list[int]], rank: int) -> int:
    """LoRA parameters for all linear layers inside the blocks (not embeddings / lm_head)."""
    return sum(rank * (s[0] + s[1]) for k, s in shapes.items()
               if len(s) == 2 and ".layers." in k and k.endswith(".weight"))


def _matmul_peak() -> float:
    """bf16 matmul FLOP/s of this machine, measured in about a tenth of a second."""
    import torch

    a = torch.randn(1024, 1024, dtype=torch.bfloat16)
    b = torch.randn(1024, 1024, dtype=torch.bfloat16)
    a @ b
    start, reps = time.perf_counter(), 0
    while time.perf_counter() - start < 0.1:
        a @ b
        reps += 1
    return 2 * 1024**3 * reps / (time.perf_counter() - start)


def _estimate(report: PreflightReport, cfg: Config, base: Base) -> None:
    rendered = report.rendered
    rows = batching.usable(rendered)
    steps = batching.plan_epoch(rendered, rows, cfg.train.seed, 0, cfg.train.tokens_per_step,
                                cfg.train.batch_size)
    report.steps_per_epoch = len(steps)
    shapes = _safetensors_shapes(base.path)
    n_params = sum(_prod(s) for s in shapes.values())
    try:
        geo = json.loads((base.path / "config.json").read_text())
    except (OSError, ValueError):
        geo = {}
    hidden, layers = geo.get("hidden_size", 576), geo.get("num_hidden_layers", 30)
    inter, vocab = geo.get("intermediate_size", 4 * hidden), geo.get("vocab_size", 49152)
    tokens = sum(rendered[i].n_tokens for i in rows)
    # three significant figures, not a fixed decimal: a tiny run must not round to 0 s
    seconds = 4 * n_params * tokens / (_matmul_peak() * ASSUMED_MFU)
    report.est_seconds_per_epoch = float(f"{seconds:.3g}")

    # memory: bf16 weights, fp32 LoRA (+grad +2 Adam moments), activations of the
    # largest micro-batch, fp32 logits of its trained tokens, the interpreter itself
    micro = max(cfg.train.tokens_per_step, max(r.n_tokens for r in rendered))
    lora = lora_param_count(shapes, cfg.lora.rank)
    act = micro * layers * (hidden * 30 + inter * 8) * 2
    logits = micro * vocab * 4 * 3
    report.est_peak_memory_gb = round((n_params * 2 + lora * 16 + act + logits) / 2**30 + 0.9, 2)
    report._lora_bytes = lora * 4  # type: ignore[attr-defined]


def _prod(shape: list[int]) -> int:
    out = 1
    for s in shape:
        out *= s
    return out


def _check_output(report: PreflightReport, cfg: Config) -> None:
    """The output folder must be writable and have room for checkpoints and the adapter."""
    out = Path(report.out)
    existing = out / "adapter_config.json"
    if existing.exists() and not (cfg.train.resume or cfg.train.overwrite):
        report.errors.append(f"{out} already holds an adapter; fix: pass --resume to continue "
                             "its run, --overwrite to replace it, or another --out")
    if (not existing.exists() and out.is_dir() and any(out.glob("checkpoint-*"))
            and not (cfg.train.resume or cfg.train.overwrite)):
        report.errors.append(f"{out} holds checkpoints of an unfinished run; fix: pass "
                             "--resume to continue it, or --overwrite to start over")
    probe_dir = out if out.exists() else _existing_parent(out)
    if probe_dir is None or not probe_dir.is_dir():
        report.errors.append(f"cannot create the output folder {out} (a parent is not a "
                             "folder); fix: choose another --out")
        return
    try:
        with tempfile.NamedTemporaryFile(dir=probe_dir, prefix=".lorakit-probe-"):
            pass
    except OSError as exc:
        report.errors.append(f"the output folder {probe_dir} is not writable "
                             f"({exc.strerror}); fix: choose another --out or fix permissions")
        return
    # each checkpoint holds weights + 2 Adam moments; KEEP+1 may exist while one lands
    from lorakit.train.checkpoint import KEEP

    adapter = getattr(report, "_lora_bytes", 0)
    need = adapter * (3 * (KEEP + 1) + 1) + 16 * 2**20
    free = shutil.disk_usage(probe_dir).free
    if free < need:
        report.errors.append(f"not enough disk space in {probe_dir}: {free / 2**20:.0f} MiB "
                             f"free, the run needs about {need / 2**20:.0f} MiB for its "
                             "checkpoints and adapter; fix: free space or choose another --out")


def _existing_parent(path: Path) -> Path | None:
    for parent in [path, *path.parents]:
        if parent.exists():
            return parent
    return None

