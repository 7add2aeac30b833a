"""Data parallel: torchrun or accelerate launch with 2 gloo processes equals one process
on the same global batch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file


# accelerate: `--multi_gpu` is its torchrun-style launcher (RANK/WORLD_SIZE per process);
# on a machine with no GPU lorakit picks gloo, so it runs here on the CPU. Its `--cpu`
# flag cannot be combined with it and launches one process unless MPI is set up.
LAUNCHERS = {
    "torchrun": ["torchrun", "--standalone", "--nproc_per_node", "2"],
    "accelerate": ["accelerate", "launch", "--num_processes", "2", "--num_machines", "1",
                   "--mixed_precision", "no", "--dynamo_backend", "no", "--multi_gpu"],
}


@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_two_processes_match_one(tmp_path, tiny_base, launcher):
    command = LAUNCHERS[launcher]
    program = Path(sys.executable).with_name(command[0])
    assert program.exists(), f"{command[0]} is not installed beside this python"
    rows = [{"messages": [{"role": "user", "content": f"Question {i}?" + " more" * (i % 5)},
                          {"role": "assistant", "content": f"Answer {i}. Cheers, Pip."}]}
            for i in range(24)]
    data = tmp_path / "t.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    # dropout 0: dropout masks are drawn per rank, so they differ from one process's;
    # float32: bf16 rounds differently when a step is split into other batch shapes
    args = ["train", "--data", str(data), "--base", str(tiny_base), "--batch-size", "6",
            "--epochs", "1", "--dropout", "0", "--lr", "5e-3", "--dtype", "float32"]
    env = {**os.environ, "LORAKIT_THREADS": "1"}
    one = subprocess.run([sys.executable, "-m", "lorakit", *args, "--out", str(tmp_path / "one")],
                         capture_output=True, text=True, env=env)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([str(program), *command[1:], "-m", "lorakit",
                          *args, "--out", str(tmp_path / "two")],
                         capture_output=True, text=True, env=env)
    assert two.returncode == 0, two.stderr[-3000:]
    assert "world size 2" in two.stderr and two.stderr.count("world size") == 1  # rank 0 prints
    a = load_file(str(tmp_path / "one" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "two" / "adapter_model.safetensors"))
    diff = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert diff <= 1e-5, diff
    steps = [json.loads(x)["step"] for x in (tmp_path / "two" / "metrics.jsonl").read_text()
             .splitlines()]
    assert steps == sorted(set(steps))  # one writer: no duplicated rows
    assert json.loads((tmp_path / "two" / "manifest.json").read_text())["metrics"][
        "world_size"] == 2
