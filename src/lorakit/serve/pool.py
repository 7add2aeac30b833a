"""An LRU pool of adapters loaded side by side on one base.

Adapters are loaded on first use (from the registry, or from folders given at
start) and at most ``max_loaded`` stay in memory; the least recently used idle
one is unloaded to make room. An adapter in use by a running request is never
evicted. Every method here mutates the model, so only the scheduler thread
calls them (between two forward passes).
"""

from __future__ import annotations

import time
import warnings
from collections import OrderedDict
from pathlib import Path

from lorakit.adapters.load import check_base_match, check_record_base, verify_adapter_files
from lorakit.adapters.registry import BASE_NAME, Registry, validate_name
from lorakit.core.errors import LorakitError
from lorakit.core.models import Base


class PoolBusy(Exception):
    """Every loaded adapter is in use and the pool is full: wait for one to finish."""


class AdapterPool:
    """Named adapters on one base model, loaded lazily, evicted LRU.

    This class runs them as PEFT adapters (``adapter_names`` per row);
    ``StackedPool`` in ``lorakit.serve.stacked`` is the faster default.
    """

    def __init__(self, model, base: Base, registry: Registry | None = None,
                 folders: dict[str, str | Path] | None = None, max_loaded: int = 8):
        if max_loaded < 1:
            raise LorakitError("--max-loaded must be at least 1")
        self.raw = model
        self.peft = None  # the PeftModel, made when the first adapter loads
        self.base = base
        self.registry = registry
        self.folders = {validate_name(k): Path(v) for k, v in (folders or {}).items()}
        self.max_loaded = max_loaded
        self.loaded: OrderedDict[str, int] = OrderedDict()  # name -> requests using it
        self.load_ms: dict[str, float] = {}

    # --- what can be served ----------------------------------------------------

    def known(self, name: str) -> bool:
        """Whether ``name`` is loaded, given at start, or registered (nothing is loaded)."""
        if name in self.loaded or name in self.folders:
            return True
        if self.registry is None:
            return False
        try:
            validate_name(name)
        except LorakitError:
            return False
        return name in self.registry.names()

    def available(self) -> list[str]:
        names = set(self.loaded) | set(self.folders)
        if self.registry is not None:
            names |= set(self.registry.names())
        return sorted(names)

    def _folder(self, name: str) -> Path:
        if name in self.folders:
            return self.folders[name]
        if self.registry is None:
            raise LorakitError(f"no adapter named {name!r}")
        record = self.registry.get(name)
        check_record_base(record, self.base)
        return self.registry.resolve(name)

    # --- loading and unloading -------------------------------------------------

    def acquire(self, name: str) -> None:
        """Mark ``name`` in use by one more request, loading it first if needed."""
        if name == BASE_NAME:
            return
        if name not in self.loaded:
            self.load(name)
        self.loaded[name] += 1
        self.loaded.move_to_end(name)

    def release(self, name: str) -> None:
        if name in self.loaded and self.loaded[name] > 0:
            self.loaded[name] -= 1

    def load(self, name: str, folder: str | Path | None = None) -> float:
        """Load one adapter (checked: safetensors, complete, same base); return ms taken."""
        validate_name(name)
        if name in self.loaded:
            self.loaded.move_to_end(name)
            return 0.0
        path = Path(folder) if folder is not None else self._folder(name)
        verify_adapter_files(path)
        check_base_match(path, self.base)
        self._make_room()

        # time only the load itself: what a request waits for on first use
        start = time.perf_counter()
        self._attach(name, path)
        ms = (time.perf_counter() - start) * 1000
        if folder is not None:
            self.folders[name] = Path(folder)
        self.loaded[name] = 0
        self.load_ms[name] = ms
        return ms

    def unload(self, name: str) -> None:
        """Free one adapter's weights; refused while a request is using it."""
        if name not in self.loaded:
            raise LorakitError(f"adapter {name!r} is not loaded")
        if self.loaded[name] > 0:
            raise PoolBusy(f"adapter {name!r} is in use by {self.loaded[name]} request(s)")
        self._detach(name)
        del self.loaded[name]

    def _attach(self, name: str, path: Path) -> None:
        """Put the adapter's weights on the model (PEFT: one more named adapter)."""
        if self.peft is None:
            from peft import PeftModel

            self.peft = PeftModel.from_pretrained(self.raw, str(path), adapter_name=name,
                                                  is_trainable=False, low_cpu_mem_usage=True)
            self.peft.eval()
        else:
            self.peft.load_adapter(str(path), adapter_name=name, is_trainable=False,
                                   low_cpu_mem_usage=True)
            if not self.loaded:
                self.peft.set_adapter(name)  # PEFT needs one active adapter to run

    def _detach(self, name: str) -> None:
        with warnings.catch_warnings():
            # PEFT warns that the active adapter moved; rows name their adapter anyway
            warnings.simplefilter("ignore", UserWarning)
            self.peft.delete_adapter(name)

    def _make_room(self) -> None:
        while len(self.loaded) >= self.max_loaded:
            idle = [n for n, users in self.loaded.items() if users == 0]
            if not idle:
                raise PoolBusy("every loaded adapter is in use")
            self.unload(idle[0])  # OrderedDict order: least recently used first

    # --- running ---------------------------------------------------------------

    def forward(self, adapter_names: list[str], **inputs):
        """One forward pass, each row through its own adapter (or the base)."""
        if not self.loaded:
            return self.raw(**inputs)  # LoRA layers with no adapters run the base only
        return self.peft(**inputs, adapter_names=adapter_names)
