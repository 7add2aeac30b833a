"""Compare: one prompt through the base and several adapters, in one batch.

The base is loaded once per process and every adapter is added to it as a
named PEFT adapter, so a single ``generate`` call runs the same prompt through
all of them (``adapter_names`` picks the adapter per row, ``__base__`` means
none). Decoding is greedy, so a comparison is repeatable.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from lorakit.core.errors import LorakitError, UsageError

BASE = "__base__"
MAX_NEW_TOKENS = 512  # the page may ask for fewer, never more


class Comparer:
    """Loads lazily on the first comparison; safe to call from several threads."""

    def __init__(self, registry, base: str | None = None, device: str = "auto"):
        self.registry = registry
        self.base_spec = base
        self.device_choice = device
        self.lock = threading.Lock()
        self.loaded: dict[str, Any] = {}  # base path -> {"model", "tokenizer", "names"}

    def choices(self) -> list[dict[str, Any]]:
        """The adapters the page offers, with the base each was trained on."""
        return [{"name": r.name, "base": r.base_name, "base_path": r.base_path,
                 "rank": r.rank, "path": r.path} for r in self.registry.list()]

    def run(self, prompt: str, adapters: list[str], system: str | None = None,
            max_new_tokens: int = 128, include_base: bool = True) -> dict[str, Any]:
        """Generate for the base (optional) and each adapter; outputs in that order."""
        if not prompt.strip():
            raise UsageError("the prompt is empty", fix="type a prompt to compare")
        if not adapters and not include_base:
            raise UsageError("nothing to compare", fix="tick the base or an adapter")
        max_new_tokens = max(1, min(int(max_new_tokens), MAX_NEW_TOKENS))
        with self.lock:
            base = self._base_for(adapters)
            slot = self._load(base, adapters)
            names = ([BASE] if include_base else []) + [slot["names"][a] for a in adapters]
            labels = (["base"] if include_base else []) + list(adapters)
            texts, seconds, counts = self._generate(slot, prompt, system, names,
                                                    max_new_tokens)
        outputs = [{"name": label, "text": text, "new_tokens": n}
                   for label, text, n in zip(labels, texts, counts)]
        return {"base": base.name, "seconds": round(seconds, 2),
                "max_new_tokens": max_new_tokens, "outputs": outputs}

    # --- loading ---------------------------------------------------------------

    def _base_for(self, adapters: list[str]):
        """The base all chosen adapters share (the --base one when given)."""
        from lorakit.core.models import resolve_base

        records = [self.registry.get(a) for a in adapters]
        if self.base_spec is not None:
            base = resolve_base(self.base_spec)
        elif records:
            first = records[0]
            base = resolve_base(first.base_path if first.base_path and Path(
                first.base_path).is_dir() else first.base_name)
        else:
            base = self._default_base()
        want = base.weights_hash()
        other = [r.name for r in records if r.base_hash and r.base_hash != want]
        if other:
            raise LorakitError(f"adapter(s) {', '.join(other)} were trained on another "
                               f"base than {base.name!r}",
                               fix="compare adapters of one base at a time")
        return base

    def _default_base(self):
        """With no adapter ticked: the base already loaded, else the one base every
        registered adapter shares, else the embedded default."""
        from lorakit.core.models import Base, resolve_base

        if self.loaded:
            path = Path(next(iter(self.loaded)))
            return Base(self.loaded[str(path)]["name"], path)
        bases = {r.base_path for r in self.registry.list() if r.base_path}
        if len(bases) == 1 and Path(next(iter(bases))).is_dir():
            return resolve_base(next(iter(bases)))
        return resolve_base(None)

    def _load(self, base, adapters: list[str]) -> dict[str, Any]:
        from lorakit.adapters.load import load_with_adapters
        from lorakit.core.device import pick_device, pick_dtype
        from lorakit.core.models import load_model, load_tokenizer

        key = str(base.path)
        if key not in self.loaded:
            device = pick_device(self.device_choice)
            model = load_model(base, dtype=pick_dtype("auto", device), device=device)
            model.eval()
            self.loaded = {key: {"model": model, "tokenizer": load_tokenizer(base),
                                 "names": {}, "stamps": {}, "count": 0, "name": base.name,
                                 "device": device}}
        slot = self.loaded[key]

        # PEFT names cannot hold '.', so each adapter gets an internal name; a
        # folder re-trained under the same name (new weights) is loaded afresh
        for name in adapters:
            folder = self.registry.resolve(name)
            stamp = (str(folder), (folder / "adapter_model.safetensors").stat().st_mtime_ns)
            if slot["stamps"].get(name) == stamp:
                continue
            internal = f"adapter{slot['count']}"
            slot["count"] += 1
            if slot["names"]:
                slot["model"] = _add_adapter(slot["model"], internal, folder, base)
            else:
                slot["model"] = load_with_adapters(slot["model"], {internal: folder}, base)
            slot["names"][name], slot["stamps"][name] = internal, stamp
        return slot

    # --- generating -------------------------------------------------------------

    def _generate(self, slot: dict[str, Any], prompt: str, system: str | None,
                  names: list[str],
                  max_new_tokens: int) -> tuple[list[str], float, list[int]]:
        import torch

        from lorakit.core.template import end_of_turn_ids, render_text

        tokenizer, model = slot["tokenizer"], slot["model"]
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": prompt}]
        text = render_text(tokenizer, messages, add_generation_prompt=True)

        # the same prompt on every row: no padding, one forward pass per token
        enc = tokenizer([text] * len(names), return_tensors="pt", add_special_tokens=False)
        enc = {k: v.to(slot["device"]) for k, v in enc.items()}
        extra = {"adapter_names": names} if slot["names"] else {}
        stops = sorted(end_of_turn_ids(tokenizer))
        start = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(**enc, **extra, do_sample=False,
                                 max_new_tokens=max_new_tokens,
                                 eos_token_id=stops, pad_token_id=tokenizer.pad_token_id)
        seconds = time.perf_counter() - start
        new = out[:, enc["input_ids"].shape[1]:]
        texts, counts = [], []
        for row in new.tolist():
            ids = _until_stop(row, set(stops) | {tokenizer.pad_token_id})
            counts.append(len(ids))
            texts.append(tokenizer.decode(ids, skip_special_tokens=True).strip())
        return texts, seconds, counts


def _add_adapter(model, internal: str, folder: Path, base):
    from lorakit.adapters.load import check_base_match, verify_adapter_files

    verify_adapter_files(folder)
    check_base_match(folder, base)
    model.load_adapter(str(folder), adapter_name=internal, is_trainable=False)
    return model


def _until_stop(ids: list[int], stops: set[int]) -> list[int]:
    """The generated ids up to (not including) the first end-of-turn or padding."""
    for i, tid in enumerate(ids):
        if tid in stops:
            return ids[:i]
    return ids
