"""Faults injected into real runs on the tiny base: kill -9, Ctrl-C, corrupt files, full disk."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from lorakit.core.config import load_config
from lorakit.core.errors import LorakitError
from lorakit.train import checkpoint


def _data(tmp_path: Path, n: int = 32) -> Path:
    rows = [{"messages": [{"role": "user", "content": f"Question number {i}?"},
                          {"role": "assistant", "content": f"Answer {i}. Cheers, Pip."}]}
            for i in range(n)]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _cmd(tiny_base, data, out, *extra) -> list[str]:
    return [sys.executable, "-m", "lorakit", "train", "--data", str(data), "--base",
            str(tiny_base), "--out", str(out), "--batch-size", "2", "--epochs", "1",
            "--max-steps", "12", "--save-every", "3", "--lr", "5e-3", *extra]


def _max_diff(a: Path, b: Path) -> float:
    wa, wb = load_file(str(a / "adapter_model.safetensors")), load_file(
        str(b / "adapter_model.safetensors"))
    assert wa.keys() == wb.keys()
    return max(float((wa[k] - wb[k]).abs().max()) for k in wa)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    start = time.time()
    while not path.exists():
        assert proc.poll() is None, "the run ended before the fault could be injected"
        assert time.time() - start < timeout
        time.sleep(0.02)


def _env() -> dict[str, str]:
    return {**os.environ, "LORAKIT_THREADS": "1"}


def test_kill_9_then_resume_equals_uninterrupted(tmp_path, tiny_base):
    data = _data(tmp_path)
    full, cut = tmp_path / "full", tmp_path / "cut"
    subprocess.run(_cmd(tiny_base, data, full), check=True, capture_output=True, env=_env())

    # kill -9 right after the second checkpoint lands, mid-run
    proc = subprocess.Popen(_cmd(tiny_base, data, cut), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=_env())
    _wait_for(cut / "checkpoint-6", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (cut / "adapter_model.safetensors").exists()
    for folder in cut.glob("checkpoint-*"):  # whatever is named a checkpoint is complete
        checkpoint.verify_checkpoint(folder)

    res = subprocess.run(_cmd(tiny_base, data, cut, "--resume"), capture_output=True,
                         text=True, env=_env())
    assert res.returncode == 0, res.stderr
    assert "resume: continuing from checkpoint-" in res.stderr
    assert _max_diff(full, cut) <= 1e-5
    steps = [json.loads(line)["step"] for line in (cut / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 13))  # no duplicated or missing metrics rows


def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path, tiny_base):
    data, out = _data(tmp_path), tmp_path / "out"
    proc = subprocess.Popen(_cmd(tiny_base, data, out, "--save-every", "100"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    _wait_for(out / "metrics.jsonl", proc)
    while not (out / "metrics.jsonl").read_text().strip():
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "--resume" in err
    saved = checkpoint.find_last(out)
    assert saved is not None and checkpoint.verify_checkpoint(saved)["step"] >= 1


def test_damaged_checkpoint_is_skipped_and_adapter_corruption_detected(tmp_path, tiny_base):
    data, out = _data(tmp_path), tmp_path / "out"
    subprocess.run(_cmd(tiny_base, data, out), check=True, capture_output=True, env=_env())
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-6", "checkpoint-9"]

    # a truncated newest checkpoint: resume falls back to the one before
    weights = out / "checkpoint-9" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    warnings: list[str] = []
    assert checkpoint.find_last(out, warn=warnings.append).name == "checkpoint-6"
    assert "truncated or corrupt" in warnings[0]

    # a truncated final adapter is refused on load with a clear error
    from lorakit.adapters.load import verify_adapter_files

    final = out / "adapter_model.safetensors"
    final.write_bytes(final.read_bytes()[:1000])
    with pytest.raises(LorakitError, match="truncated or corrupt"):
        verify_adapter_files(out)


def test_disk_full_while_checkpointing_loses_nothing(tmp_path, tiny_base, monkeypatch):
    from lorakit.train.run import train

    cfg = load_config(None, {"data.train": str(_data(tmp_path, 8)), "train.base": str(tiny_base),
                             "train.out": str(tmp_path / "out"), "train.batch_size": 2,
                             "train.save_every": 1, "train.max_steps": 3})
    real = checkpoint.save_file
    calls = {"n": 0}

    def flaky(tensors, path):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(tensors, path)

    monkeypatch.setattr(checkpoint, "save_file", flaky)
    with pytest.raises(LorakitError, match="No space left") as err:
        train(cfg)
    assert "continues from checkpoint-1" in str(err.value)
    out = tmp_path / "out"
    assert checkpoint.find_last(out).name == "checkpoint-1"
    assert not [p for p in out.iterdir() if p.name.startswith(".checkpoint")]
