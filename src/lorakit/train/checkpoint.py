"""Checkpoints and the final adapter, written so a kill never leaves a fake one.

A checkpoint is ``OUT/checkpoint-STEP/``: a PEFT adapter (usable as is), the
optimizer state and ``state.json`` (step, epoch, metrics so far). It is built
in a hidden temporary folder, every file fsynced, then renamed into place, so
a folder named ``checkpoint-STEP`` is always complete. Everything is
safetensors or JSON: nothing is ever unpickled.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from lorakit.adapters.load import WEIGHTS, _check_safetensors, verify_adapter_files
from lorakit.core.errors import LorakitError
from lorakit.core.io import atomic_replace_dir, atomic_write_json, fsync_dir

STATE = "state.json"
OPTIMIZER = "optimizer.safetensors"
KEEP = 2  # complete checkpoints kept; the older ones are removed only after a new one lands
_NAME = re.compile(r"^checkpoint-(\d+)$")


def save_adapter(model, folder: Path, base_path: str) -> None:
    """Write the PEFT adapter files into ``folder`` (already a temporary folder)."""
    model.peft_config["default"].base_model_name_or_path = base_path
    model.save_pretrained(str(folder), safe_serialization=True)


def publish_adapter(model, out: Path, base_path: str) -> None:
    """Write the final adapter into ``out``: each file lands whole (temp + fsync + rename)."""
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".adapter-", dir=out))
    try:
        save_adapter(model, tmp, base_path)
        # the weights move first and the config last: a folder with a config
        # always has complete weights beside it
        names = sorted(p.name for p in tmp.iterdir())
        names.sort(key=lambda n: n == "adapter_config.json")
        for name in names:
            with (tmp / name).open("rb") as fh:
                os.fsync(fh.fileno())
                os.replace(tmp / name, out / name)
        fsync_dir(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict, list]:
    state = optimizer.state_dict()
    tensors = {}
    for idx, entry in state["state"].items():
        for key, value in entry.items():
            value = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"{idx}.{key}"] = value.contiguous()
    return tensors, state["param_groups"]


def save_checkpoint(model, optimizer, out: Path, step: int, state: dict[str, Any],
                    base_path: str) -> Path:
    """Write ``OUT/checkpoint-STEP`` atomically, then prune old ones."""
    target = out / f"checkpoint-{step}"
    tmp = Path(tempfile.mkdtemp(prefix=f".checkpoint-{step}-", dir=out))
    try:
        save_adapter(model, tmp, base_path)
        tensors, groups = _optimizer_tensors(optimizer)
        save_file(tensors, str(tmp / OPTIMIZER))
        atomic_write_json(tmp / STATE, {**state, "step": step, "param_groups": groups})
        atomic_replace_dir(tmp, target)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        last = find_last(out)
        raise LorakitError(
            f"could not write checkpoint {step} ({exc.strerror or exc})", path=target,
            fix="free disk space or fix permissions, then `lorakit train ... --resume`"
                + (f" (continues from {last.name})" if last else "")) from None
    _prune(out, keep=KEEP)
    return target


def _prune(out: Path, keep: int) -> None:
    found = sorted(_checkpoints(out), key=lambda p: -int(_NAME.match(p.name).group(1)))
    for old in found[keep:]:
        shutil.rmtree(old, ignore_errors=True)


def remove_all(out: Path) -> None:
    """Remove every checkpoint of an earlier run in ``out`` (a fresh, overwriting run)."""
    for folder in _checkpoints(out):
        shutil.rmtree(folder, ignore_errors=True)


def _checkpoints(out: Path) -> list[Path]:
    if not out.is_dir():
        return []
    return [p for p in out.iterdir() if p.is_dir() and _NAME.match(p.name)]


def verify_checkpoint(folder: Path) -> dict[str, Any]:
    """Raise LorakitError unless the checkpoint is complete; return its state."""
    verify_adapter_files(folder)
    if (folder / OPTIMIZER).exists():
        _check_safetensors(folder / OPTIMIZER)
    try:
        return json.loads((folder / STATE).read_text())
    except (FileNotFoundError, ValueError) as exc:
        raise LorakitError(f"checkpoint state is missing or corrupt ({type(exc).__name__})",
                           path=folder) from None


def find_last(out: Path, warn=None) -> Path | None:
    """The newest complete checkpoint; incomplete or corrupt ones are skipped (and said)."""
    found = sorted(_checkpoints(out), key=lambda p: -int(_NAME.match(p.name).group(1)))
    for folder in found:
        try:
            verify_checkpoint(folder)
            if not (folder / OPTIMIZER).exists():
                raise LorakitError("optimizer state missing", path=folder)
            return folder
        except LorakitError as exc:
            if warn:
                warn(f"skipping a damaged checkpoint: {exc.render()}")
    return None


def load_checkpoint(model, optimizer, folder: Path) -> dict[str, Any]:
    """Restore LoRA weights and optimizer state exactly; return the saved state."""
    from peft import set_peft_model_state_dict

    state = verify_checkpoint(folder)
    weights = load_file(str(folder / WEIGHTS))
    result = set_peft_model_state_dict(model, weights)
    missing = [k for k in getattr(result, "unexpected_keys", []) if "lora" in k]
    if missing:
        raise LorakitError(f"checkpoint does not match this LoRA config ({missing[0]})",
                           path=folder, fix="resume with the same lora settings")
    tensors = load_file(str(folder / OPTIMIZER))
    opt_state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        idx, name = key.split(".", 1)
        opt_state.setdefault(int(idx), {})[name] = value
    optimizer.load_state_dict({"state": opt_state, "param_groups": state["param_groups"]})
    return state
