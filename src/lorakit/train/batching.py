"""Rendered rows -> optimizer steps -> padded micro-batches.

The plan of every epoch is a pure function of (rows, seed, epoch, world
size): resume and every rank of a data-parallel run compute the same plan, so
nothing about data order has to be saved or sent. Rows are grouped by length
(shuffled, then sorted inside chunks, then the steps shuffled again) so a
padded batch wastes little; padding is never counted as a token.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

import torch

from lorakit.core.template import IGNORE, Rendered

GROUP_CHUNK = 64  # rows sorted together by length; larger = less padding, less randomness


@dataclass
class Step:
    """One optimizer step: row indices and the trained tokens they hold."""

    rows: list[int]
    n_tokens: int
    n_trained: int


def usable(rendered: list[Rendered]) -> list[int]:
    """Rows that train at least one token (shifted: a label needs a token before it)."""
    return [i for i, r in enumerate(rendered) if _n_targets(r) > 0]


def _n_targets(r: Rendered) -> int:
    return sum(1 for x in r.labels[1:] if x != IGNORE)


def plan_epoch(rendered: list[Rendered], rows: list[int], seed: int, epoch: int,
               tokens_per_step: int, batch_size: int) -> list[Step]:
    """Split one epoch into steps of at most ``batch_size`` rows / ``tokens_per_step`` tokens."""
    rng = random.Random(f"{seed}:{epoch}")
    order = list(rows)
    rng.shuffle(order)

    # length grouping: sort inside chunks, cut into steps, then shuffle the steps
    steps: list[Step] = []
    for start in range(0, len(order), GROUP_CHUNK):
        chunk = sorted(order[start:start + GROUP_CHUNK], key=lambda i: rendered[i].n_tokens)
        current: list[int] = []
        tokens = 0
        for i in chunk:
            n = rendered[i].n_tokens
            if current and (tokens + n > tokens_per_step or len(current) >= batch_size):
                steps.append(_step(rendered, current))
                current, tokens = [], 0
            current.append(i)
            tokens += n
        if current:
            steps.append(_step(rendered, current))
    rng.shuffle(steps)
    return steps


def _step(rendered: list[Rendered], rows: list[int]) -> Step:
    return Step(list(rows), sum(rendered[i].n_tokens for i in rows),
                sum(_n_targets(rendered[i]) for i in rows))


def shard(step: Step, rank: int, world: int) -> list[int]:
    """This rank's rows of a step (round-robin, so lengths stay balanced)."""
    return step.rows[rank::world]


def micro_batches(rendered: list[Rendered], rows: list[int],
                  max_padded: int) -> list[list[int]]:
    """Cut rows (sorted by length) into groups whose padded size stays under ``max_padded``."""
    rows = sorted(rows, key=lambda i: rendered[i].n_tokens)
    groups: list[list[int]] = []
    current: list[int] = []
    for i in rows:
        longest = rendered[i].n_tokens  # sorted: the newcomer is the longest
        if current and longest * (len(current) + 1) > max_padded:
            groups.append(current)
            current = []
        current.append(i)
    if current:
        groups.append(current)
    return groups


def collate(rendered: list[Rendered], rows: list[int], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded input_ids, attention_mask and labels (-100 on padding)."""
    width = max(rendered[i].n_tokens for i in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for b, i in enumerate(rows):
        r = rendered[i]
        ids[b, : r.n_tokens] = torch.tensor(r.input_ids)
        labels[b, : r.n_tokens] = torch.tensor(r.labels)
        mask[b, : r.n_tokens] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def tokens_fingerprint(rendered: list[Rendered]) -> str:
    """A hash of exactly what is trained: every token id and whether it is trained."""
    digest = hashlib.sha256()
    for r in rendered:
        digest.update(repr((r.input_ids, [x != IGNORE for x in r.labels])).encode())
    return "sha256:" + digest.hexdigest()
