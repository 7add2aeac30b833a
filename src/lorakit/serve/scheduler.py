"""Continuous batching over one base holding many adapters.

One scheduler thread owns the model. Each decode step is one forward pass over
every active sequence, each row through its own adapter (PEFT's per-row
``adapter_names``; ``"__base__"`` is the base alone), with one shared KV cache.
New requests are prefilled together between two decode steps and their caches
joined to the running batch: both sides are left-padded to the same length
and the attention mask hides the padding, so a row's result does not depend
on what it is batched with (up to float rounding). Finished rows leave the
batch at once; columns that only padding uses are trimmed.

Why one shared cache rather than one per sequence: a per-sequence cache must
be stacked (and padded) into a batch at every step, which copies the whole
cache each token; the shared cache is concatenated only when requests join.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from lorakit.adapters.registry import BASE_NAME
from lorakit.serve.pool import AdapterPool, PoolBusy
from lorakit.serve.sampling import GenParams, sample_rows, split_stop

_ids = itertools.count(1)


class QueueFull(Exception):
    """The waiting queue is at its limit (HTTP 429)."""


@dataclass
class Event:
    """What a request's sink receives: text deltas, then one done or error."""

    kind: str  # "delta" | "done" | "error"
    text: str = ""
    finish_reason: str | None = None
    usage: dict[str, int] | None = None
    status: int = 200
    code: str | None = None


@dataclass
class Sequence:
    adapter: str
    prompt_ids: list[int]
    params: GenParams
    sink: Callable[[Event], None]
    deadline: float
    id: int = field(default_factory=lambda: next(_ids))
    generated: list[int] = field(default_factory=list)
    emitted: int = 0  # characters of text already sent
    cancelled: bool = False
    gen: torch.Generator | None = None

    def cancel(self) -> None:
        """Called from any thread (a client went away); the scheduler drops the row."""
        self.cancelled = True


class Engine:
    """The scheduler: owns the model, admits requests, runs decode steps."""

    def __init__(self, pool: AdapterPool, tokenizer, base_name: str, *,
                 max_batch: int = 32, queue_limit: int = 64, max_prompt_tokens: int = 2048,
                 max_new_tokens: int = 1024, timeout_s: float = 120.0, device: str = "cpu"):
        self.pool = pool
        self.tokenizer = tokenizer
        self.base_name = base_name
        self.max_batch = max_batch
        self.queue_limit = queue_limit
        self.max_prompt_tokens = max_prompt_tokens
        self.max_new_tokens = max_new_tokens
        self.timeout_s = timeout_s
        self.device = torch.device(device)
        from lorakit.core.template import end_of_turn_ids

        self.stop_ids = end_of_turn_ids(tokenizer) | {tokenizer.eos_token_id}
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None \
            else tokenizer.eos_token_id
        self.waiting: deque[Sequence] = deque()
        self.active: list[Sequence] = []
        self.commands: queue.Queue = queue.Queue()
        self.wake = threading.Condition()
        self.stats = {"steps": 0, "tokens": 0, "requests": 0, "max_batch_seen": 0}
        self._cache = self._mask = self._last = self._pos = None
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="lorakit-scheduler", daemon=True)

    # --- called from other threads ---------------------------------------------

    def start(self) -> "Engine":
        self._thread.start()
        return self

    def shutdown(self) -> None:
        with self.wake:
            self._stop = True
            self.wake.notify_all()
        self._thread.join(timeout=10)

    def submit(self, adapter: str, prompt_ids: list[int], params: GenParams,
               sink: Callable[[Event], None], timeout_s: float | None = None) -> Sequence:
        """Queue one request; raises QueueFull when the queue is at its limit."""
        seq = Sequence(adapter, list(prompt_ids), params, sink,
                       deadline=time.monotonic() + (timeout_s or self.timeout_s))
        seq.gen = params.generator()
        with self.wake:
            if len(self.waiting) >= self.queue_limit:
                raise QueueFull(f"{len(self.waiting)} requests are waiting")
            self.waiting.append(seq)
            self.wake.notify_all()
        return seq

    def call(self, fn: Callable[[], Any], timeout: float = 120) -> Any:
        """Run ``fn`` on the scheduler thread between two steps (loads, unloads)."""
        future: Future = Future()
        self.commands.put((fn, future))
        with self.wake:
            self.wake.notify_all()
        return future.result(timeout=timeout)

    def load_state(self) -> dict[str, Any]:
        return {"active": len(self.active), "waiting": len(self.waiting),
                "loaded": list(self.pool.loaded), **self.stats}

    # --- the scheduler thread --------------------------------------------------

    def _run(self) -> None:
        with torch.inference_mode():
            while True:
                with self.wake:
                    while (not self._stop and not self.active and not self.waiting
                           and self.commands.empty()):
                        self.wake.wait(timeout=0.5)
                    if self._stop:
                        break
                self._run_commands()
                self._admit()
                if self.active:
                    self._guarded(self._step)
        for seq in list(self.active) + list(self.waiting):
            seq.sink(Event("error", text="server is shutting down", status=503))

    def _run_commands(self) -> None:
        while not self.commands.empty():
            fn, future = self.commands.get_nowait()
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller
                future.set_exception(exc)

    def _guarded(self, fn: Callable[[], None]) -> None:
        """A failing forward pass fails the requests in it, never the server."""
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - reported to each request as a 500
            self._fail_all(exc)

    def _fail_all(self, exc: Exception) -> None:
        for seq in self.active:
            self._finish(seq, Event("error", text=f"generation failed: {exc}", status=500))
        self.active = []
        self._cache = self._mask = self._pos = self._last = None

    def _admit(self) -> None:
        """Move waiting requests into the batch, prefilled together."""
        joining: list[Sequence] = []
        with self.wake:
            pending = list(self.waiting)
        for seq in pending:
            if len(self.active) + len(joining) >= self.max_batch:
                break
            if seq.cancelled or time.monotonic() > seq.deadline:
                self._drop_waiting(seq, timeout=not seq.cancelled)
                continue
            try:
                self.pool.acquire(seq.adapter)
            except PoolBusy:
                continue  # its adapter needs a slot: wait for a running one to end
            except Exception as exc:  # noqa: BLE001 - a bad adapter fails its request only
                self._drop_waiting(seq, error=Event(
                    "error", text=f"adapter {seq.adapter!r} could not be loaded: {exc}",
                    status=500, code="adapter_load_failed"))
                continue
            with self.wake:
                self.waiting.remove(seq)
            joining.append(seq)
        if joining:
            self._guarded_prefill(joining)

    def _drop_waiting(self, seq: Sequence, timeout: bool = False,
                      error: Event | None = None) -> None:
        with self.wake:
            if seq in self.waiting:
                self.waiting.remove(seq)
        if timeout:
            error = Event("error", text="request timed out in the queue", status=504,
                          code="timeout")
        if error is not None:
            seq.sink(error)

    def _guarded_prefill(self, joining: list[Sequence]) -> None:
        try:
            self._prefill(joining)
        except Exception as exc:  # noqa: BLE001 - the joining requests fail, the batch runs on
            if any(seq in self.active for seq in joining):
                # failed after joining: the batch state is unsure, so fail it all
                joining = [s for s in joining if s not in self.active]
                self._fail_all(exc)
            for seq in joining:
                self.pool.release(seq.adapter)
                seq.sink(Event("error", text=f"prefill failed: {exc}", status=500))

    def _prefill(self, seqs: list[Sequence]) -> None:
        # left-pad the new prompts to one length; padding is masked out
        n, width = len(seqs), max(len(s.prompt_ids) for s in seqs)
        ids = torch.full((n, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((n, width), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, width - len(s.prompt_ids):] = torch.tensor(s.prompt_ids)
            mask[i, width - len(s.prompt_ids):] = 1
        pos = (mask.cumsum(-1) - 1).clamp(min=0)

        from transformers import DynamicCache

        cache = DynamicCache()
        out = self.pool.forward([s.adapter for s in seqs], input_ids=ids.to(self.device),
                                attention_mask=mask.to(self.device),
                                position_ids=pos.to(self.device), cache=cache,
                                use_cache=True, logits_to_keep=1)
        self._join(seqs, cache, mask.to(self.device),
                   mask.sum(-1).to(self.device))
        self.stats["requests"] += n
        self._emit(seqs, out.logits[:, -1, :])

    def _join(self, seqs: list[Sequence], cache, mask: torch.Tensor,
              pos: torch.Tensor) -> None:
        """Append newly prefilled rows to the running batch (left-padding the shorter)."""
        if not self.active or self._cache is None:
            self.active = list(seqs)
            self._cache, self._mask, self._pos = cache, mask, pos
            self._last = torch.zeros(len(seqs), dtype=torch.long, device=self.device)
            return
        old_t, new_t = self._mask.shape[1], mask.shape[1]
        _pad_left(self._cache, self._mask, new_t - old_t)
        self._mask = _pad_mask(self._mask, new_t - old_t)
        _pad_left(cache, mask, old_t - new_t)
        mask = _pad_mask(mask, old_t - new_t)
        for old_layer, new_layer in zip(self._cache.layers, cache.layers):
            old_layer.keys = torch.cat([old_layer.keys, new_layer.keys], dim=0)
            old_layer.values = torch.cat([old_layer.values, new_layer.values], dim=0)
        self._mask = torch.cat([self._mask, mask], dim=0)
        self._pos = torch.cat([self._pos, pos], dim=0)
        self._last = torch.cat([self._last, torch.zeros(len(seqs), dtype=torch.long,
                                                        device=self.device)])
        self.active = self.active + list(seqs)

    def _step(self) -> None:
        """One decode step: one forward pass over every active row."""
        mask = torch.cat([self._mask, torch.ones_like(self._mask[:, :1])], dim=1)
        out = self.pool.forward([s.adapter for s in self.active],
                                input_ids=self._last[:, None], attention_mask=mask,
                                position_ids=self._pos[:, None], cache=self._cache,
                                use_cache=True)
        self._mask, self._pos = mask, self._pos + 1
        self.stats["steps"] += 1
        self.stats["max_batch_seen"] = max(self.stats["max_batch_seen"], len(self.active))
        self._emit(self.active, out.logits[:, -1, :])

    def _emit(self, seqs: list[Sequence], logits: torch.Tensor) -> None:
        """Sample each row's next token, send its text, and drop finished rows.

        ``seqs`` are the last ``len(seqs)`` rows of the batch (all of them after a
        decode step, the newly joined ones after a prefill).
        """
        tokens = sample_rows(logits, [s.params for s in seqs], [s.gen for s in seqs])
        offset = len(self.active) - len(seqs)
        self._last[offset:] = torch.tensor(tokens, dtype=torch.long, device=self.device)
        done = {offset + i for i, (seq, tok) in enumerate(zip(seqs, tokens))
                if self._advance(seq, tok)}
        if done:
            self._select([i for i in range(len(self.active)) if i not in done])

    def _advance(self, seq: Sequence, token: int) -> bool:
        """Add one token to ``seq``; send its new text; True when it is finished."""
        self.stats["tokens"] += 1
        finish = None
        if seq.cancelled:
            return self._finish(seq, None)
        if token in self.stop_ids:
            finish = "stop"
        else:
            seq.generated.append(token)
        text = self.tokenizer.decode(seq.generated, skip_special_tokens=True)
        text, hit, safe = split_stop(text, seq.params.stop)
        if hit:
            finish = "stop"
        elif finish is None and len(seq.generated) >= seq.params.max_tokens:
            finish = "length"
        if finish is not None:
            safe = len(text)
        if safe > seq.emitted:
            seq.sink(Event("delta", text=text[seq.emitted:safe]))
            seq.emitted = safe
        if finish is not None:
            usage = {"prompt_tokens": len(seq.prompt_ids),
                     "completion_tokens": len(seq.generated),
                     "total_tokens": len(seq.prompt_ids) + len(seq.generated)}
            return self._finish(seq, Event("done", finish_reason=finish, usage=usage))
        if time.monotonic() > seq.deadline:
            return self._finish(seq, Event("error", text="request timed out", status=504,
                                           code="timeout"))
        return False

    def _finish(self, seq: Sequence, event: Event | None) -> bool:
        if seq.adapter != BASE_NAME:
            self.pool.release(seq.adapter)
        if event is not None:
            seq.sink(event)
        return True

    def _select(self, keep: list[int]) -> None:
        """Keep only rows ``keep``; trim leading columns no remaining row uses."""
        if len(keep) == len(self.active):
            return
        self.active = [self.active[i] for i in keep]
        if not keep:
            self._cache = self._mask = self._pos = self._last = None
            return
        index = torch.tensor(keep, dtype=torch.long, device=self.device)
        self._mask, self._pos, self._last = self._mask[index], self._pos[index], \
            self._last[index]
        used = self._mask.sum(0).nonzero()
        cut = int(used[0]) if used.numel() else 0
        for layer in self._cache.layers:
            layer.keys = layer.keys[index, :, cut:, :]
            layer.values = layer.values[index, :, cut:, :]
        self._mask = self._mask[:, cut:]


def _pad_left(cache, mask: torch.Tensor, n: int) -> None:
    """Prepend ``n`` zero columns to every layer of ``cache`` (masked out by the caller)."""
    if n <= 0:
        return
    for layer in cache.layers:
        b, h, _, d = layer.keys.shape
        zeros = layer.keys.new_zeros((b, h, n, d))
        layer.keys = torch.cat([zeros, layer.keys], dim=2)
        layer.values = torch.cat([layer.values.new_zeros((b, h, n, layer.values.shape[-1])),
                                  layer.values], dim=2)


def _pad_mask(mask: torch.Tensor, n: int) -> torch.Tensor:
    if n <= 0:
        return mask
    return torch.cat([mask.new_zeros((mask.shape[0], n)), mask], dim=1)
