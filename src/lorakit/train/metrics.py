"""Metrics of a run: ``metrics.jsonl`` in the adapter folder, TensorBoard when asked.

One JSON object a line: step, epoch, loss, lr, tokens, tokens_per_s,
elapsed_s (and eval_loss on eval steps). On resume the lines after the
checkpoint's step are dropped, so the file matches an uninterrupted run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

METRICS = "metrics.jsonl"


class MetricsLog:
    """Append-only metrics; ``enabled=False`` on non-zero ranks (only rank 0 writes)."""

    def __init__(self, out: Path, enabled: bool = True, tensorboard: bool = False,
                 resume_step: int | None = None):
        self.path = out / METRICS
        self.enabled = enabled
        self.writer = None
        if not enabled:
            return
        self._truncate(resume_step)
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(out / "tensorboard"), purge_step=resume_step)

    def _truncate(self, resume_step: int | None) -> None:
        # a fresh run starts a fresh file; a resumed one keeps what the checkpoint saw
        if resume_step is None or not self.path.exists():
            self.path.write_text("")
            return
        kept = [line for line in self.path.read_text().splitlines()
                if line.strip() and _step_of(line) <= resume_step]
        self.path.write_text("".join(line + "\n" for line in kept))

    def log(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with self.path.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        if self.writer is not None:
            for key, value in row.items():
                if key != "step" and isinstance(value, (int, float)):
                    self.writer.add_scalar(f"train/{key}", value, row["step"])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _step_of(line: str) -> int:
    try:
        return int(json.loads(line).get("step", 0))
    except (ValueError, AttributeError):
        return 1 << 62  # a torn last line: dropped


def read_metrics(folder: str | Path) -> list[dict[str, Any]]:
    """The metrics rows of an adapter folder (a torn last line is skipped)."""
    rows = []
    path = Path(folder) / METRICS
    if not path.exists():
        return rows
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows
