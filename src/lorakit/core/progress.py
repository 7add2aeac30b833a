"""Progress a person reads while waiting: spinners, bars with tokens/s and memory."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import Iterator

import psutil


def rss_gb() -> float:
    """Resident memory of this process, in GiB."""
    return psutil.Process(os.getpid()).memory_info().rss / 2**30


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far, in GiB (Linux: ru_maxrss in KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


@contextlib.contextmanager
def status(message: str, stream=None) -> Iterator[None]:
    """One line before and after a slow step, on stderr (stdout stays for results)."""
    stream = stream or sys.stderr
    start = time.perf_counter()
    print(f"{message} ...", file=stream, flush=True)
    yield
    print(f"{message}: done in {time.perf_counter() - start:.1f}s", file=stream, flush=True)
