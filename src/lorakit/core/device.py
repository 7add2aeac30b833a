"""Pick the device and dtype: CUDA (and its dtypes) when present, else the CPU."""

from __future__ import annotations

import os

import torch


def pick_device(choice: str = "auto") -> torch.device:
    if choice != "auto":
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def pick_dtype(choice: str, device: torch.device) -> torch.dtype:
    """bf16 where the hardware does it fast (AMX/AVX-512 CPUs, Ampere+ GPUs)."""
    if choice != "auto":
        return getattr(torch, choice)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu":
        return torch.bfloat16 if cpu_has_fast_bf16() else torch.float32
    return torch.float32


def cpu_has_fast_bf16() -> bool:
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return any(f in flags for f in ("amx_bf16", "avx512_bf16"))


def setup_threads() -> int:
    """Use every core; passive OpenMP waits so two busy cores do not spin-collapse."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    n = int(os.environ.get("LORAKIT_THREADS", os.cpu_count() or 1))
    torch.set_num_threads(n)
    return n
