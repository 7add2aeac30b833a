"""Data-parallel training under torchrun / accelerate launch (gloo on CPU, NCCL on GPUs).

Both launchers set RANK / WORLD_SIZE / LOCAL_RANK; one process without them
is a world of one and touches nothing here. Every rank computes the same
step plan, trains its share of each step's rows, and the gradients are summed
across ranks before the optimizer step, so a step sees exactly the global
batch a single process would (see ``run.train``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device: torch.device) -> "Dist":
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return cls(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)),
                   int(os.environ.get("LOCAL_WORLD_SIZE", world)))

    def sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum a tensor across ranks in place (a no-op for one process)."""
        if self.world > 1:
            import torch.distributed as dist

            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def sum_grads(self, params: list[torch.nn.Parameter]) -> None:
        """Sum gradients across ranks in one flat all-reduce.

        Hand-written instead of DistributedDataParallel because each rank's loss
        is already divided by the *global* trained-token count: a plain sum is
        the exact single-process gradient, while DDP's mean over ranks would be
        wrong whenever ranks hold different numbers of tokens.
        """
        if self.world <= 1:
            return
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        self.sum_(flat)
        offset = 0
        for p, g in zip(params, grads):
            n = g.numel()
            p.grad = flat[offset:offset + n].view_as(p).clone()
            offset += n

    def any_(self, flag: bool) -> bool:
        """True on every rank when it is true on any (e.g. one rank got Ctrl-C)."""
        if self.world <= 1:
            return flag
        return bool(self.sum_(torch.tensor([int(flag)])).item())

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
