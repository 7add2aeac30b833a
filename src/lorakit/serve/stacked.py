"""Stacked LoRA: every loaded adapter applied to a mixed batch in three ops per layer.

Our own equivalent of PEFT's per-row ``adapter_names``, used because it
measures faster (see docs/serve.md). For each adapted Linear layer the A
matrices of all adapter slots are stacked into one ``[slots*rank, in]``
tensor and the (scaled) B matrices into one ``[slots*rank, out]`` tensor. A
forward hook on the plain base layer then computes, for the whole batch::

    h = x @ A_all.T          # every row through every adapter's A (small: rank 16)
    h *= row_mask            # keep only each row's own adapter block (base rows: none)
    out += h @ B_all         # one matmul adds each row's own delta

PEFT instead gathers and scatters the rows of each adapter separately, about
ten small ops per adapter per layer; on a CPU those op overheads dominate.
The extra FLOPs here (rows times other adapters' ranks) are small next to the
base layer's. Loading an adapter is reading its safetensors into a free slot,
so hot-loading takes milliseconds.

Supported: plain LoRA on Linear layers (any rank, rsLoRA). Refused with a
clear error (use ``--lora-impl peft``): DoRA, per-module rank or alpha
patterns, ``modules_to_save``, embedding or convolution LoRA.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from lorakit.adapters.load import WEIGHTS, verify_adapter_files
from lorakit.adapters.registry import BASE_NAME
from lorakit.core.errors import LorakitError
from lorakit.serve.pool import AdapterPool

PREFIX = "base_model.model."


class _Stack:
    """The stacked A and B of one base Linear layer, and the hook that applies them."""

    def __init__(self, module: torch.nn.Linear, slots: int, rank: int, owner: "StackedPool"):
        w = module.weight
        self.a = w.new_zeros((slots * rank, module.in_features))
        self.b = w.new_zeros((slots * rank, module.out_features))
        self.owner = owner
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, module, inputs, output):
        mask = self.owner.row_mask
        if mask is None:
            return output
        width = mask.shape[1]
        x = inputs[0]
        h = torch.matmul(x, self.a[:width].T)  # [B, T, width]
        h.mul_(mask[:, None, :])
        flat = output.view(-1, output.shape[-1])
        flat.addmm_(h.view(-1, width), self.b[:width])
        return output

    def grow(self, slots: int, old_rank: int, rank: int) -> None:
        """Re-lay the stack for a larger rank (each slot's block padded with zeros)."""
        for attr in ("a", "b"):
            old = getattr(self, attr)
            new = old.new_zeros((slots, rank, old.shape[1]))
            new[:, :old_rank] = old.view(slots, old_rank, -1)
            setattr(self, attr, new.view(slots * rank, -1))


class StackedPool(AdapterPool):
    """An ``AdapterPool`` whose adapters live in stacked tensors on the plain base."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rank = 0
        self.stacks: dict[str, _Stack] = {}
        self.slot_of: dict[str, int] = {}
        self.row_mask: torch.Tensor | None = None
        self._modules = dict(self.raw.named_modules())

    def _attach(self, name: str, path: Path) -> None:
        from safetensors.torch import load_file

        config = verify_adapter_files(path)
        _check_supported(config, path)
        rank = int(config["r"])
        scale = config["lora_alpha"] / (math.sqrt(rank) if config.get("use_rslora") else rank)
        pairs = _pairs(load_file(str(Path(path) / WEIGHTS)), path)
        for module_name in pairs:
            module = self._modules.get(module_name)
            if not isinstance(module, torch.nn.Linear):
                raise LorakitError(f"adapter targets {module_name!r}, which is not a Linear "
                                   "layer of this base", path=path,
                                   fix="serve it with --lora-impl peft")
        if rank > self.rank:
            self._grow(rank)
        slot = min(set(range(self.max_loaded)) - set(self.slot_of.values()))

        # write the slot: A rows as they are, B transposed with the scale folded in
        for module_name, (a, b) in pairs.items():
            stack = self.stacks.get(module_name)
            if stack is None:
                stack = self.stacks[module_name] = _Stack(
                    self._modules[module_name], self.max_loaded, self.rank, self)
            lo = slot * self.rank
            stack.a[lo:lo + self.rank].zero_()
            stack.b[lo:lo + self.rank].zero_()
            stack.a[lo:lo + a.shape[0]] = a.to(stack.a.dtype)
            stack.b[lo:lo + a.shape[0]] = (b.T * scale).to(stack.b.dtype)
        self.slot_of[name] = slot
        self._clear_slot(slot, keep=set(pairs))

    def _detach(self, name: str) -> None:
        self._clear_slot(self.slot_of.pop(name), keep=set())

    def _clear_slot(self, slot: int, keep: set[str]) -> None:
        """Zero a slot in every layer except ``keep`` (an evicted adapter leaves nothing)."""
        lo = slot * self.rank
        for module_name, stack in self.stacks.items():
            if module_name not in keep:
                stack.a[lo:lo + self.rank].zero_()
                stack.b[lo:lo + self.rank].zero_()

    def _grow(self, rank: int) -> None:
        for stack in self.stacks.values():
            stack.grow(self.max_loaded, self.rank, rank)
        self.rank = rank

    def forward(self, adapter_names: list[str], **inputs):
        """One pass of the plain base; the hooks add each row's own adapter."""
        rows = [self.slot_of.get(n, -1) if n != BASE_NAME else -1 for n in adapter_names]
        used = max(rows, default=-1) + 1
        if used == 0:
            self.row_mask = None
            return self.raw(**inputs)
        dtype = next(iter(self.stacks.values())).a.dtype
        mask = torch.zeros((len(rows), used, self.rank), dtype=dtype,
                           device=next(iter(self.stacks.values())).a.device)
        for i, slot in enumerate(rows):
            if slot >= 0:
                mask[i, slot] = 1
        self.row_mask = mask.view(len(rows), used * self.rank)
        try:
            return self.raw(**inputs)
        finally:
            self.row_mask = None


def _check_supported(config: dict, path: Path) -> None:
    problems = []
    if config.get("peft_type", "LORA") != "LORA":
        problems.append(f"peft_type {config.get('peft_type')}")
    for key in ("use_dora", "rank_pattern", "alpha_pattern", "modules_to_save",
                "trainable_token_indices"):
        if config.get(key):
            problems.append(key)
    if config.get("bias", "none") != "none":
        problems.append("trained biases")
    if problems:
        raise LorakitError(f"the stacked LoRA server does not support {', '.join(problems)}",
                           path=path, fix="serve it with --lora-impl peft")


def _pairs(tensors: dict[str, torch.Tensor], path: Path) -> dict[str, tuple]:
    """{base module name: (A [r, in], B [out, r])} from PEFT's saved key names."""
    found: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        for part in ("lora_A", "lora_B"):
            suffix = f".{part}.weight"
            if key.startswith(PREFIX) and key.endswith(suffix):
                found.setdefault(key[len(PREFIX):-len(suffix)], {})[part] = value
                break
        else:
            raise LorakitError(f"unexpected tensor {key!r} in the adapter", path=path,
                               fix="serve it with --lora-impl peft")
    if any(len(v) != 2 for v in found.values()):
        raise LorakitError("adapter has a lora_A without its lora_B (or the reverse)",
                           path=path, fix="restore the adapter folder from a copy")
    return {k: (v["lora_A"], v["lora_B"]) for k, v in found.items()}
