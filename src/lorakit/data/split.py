"""`lorakit data split`: a seeded train/eval split that keeps related rows together.

Rows that are duplicates, near-duplicates or share a (nearly) equal prompt
are joined into one group (union-find over the pairs the dedup index finds),
and whole groups are assigned to one side, so no eval row has a near copy in
train. Groups are shuffled with the seed, then the eval side takes groups
until it holds the asked share of rows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lorakit.core.errors import LorakitError
from lorakit.core.io import atomic_write_text
from lorakit.data.dedup import DedupIndex
from lorakit.data.read import iter_rows


@dataclass
class SplitReport:
    path: str
    train_out: str
    eval_out: str
    rows: int
    train: int
    eval: int
    groups: int
    grouped_rows: int  # rows that share a group with another row
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def groups_of(examples: list) -> list[int]:
    """A group id per example: related rows (dups, near dups, same prompt) share one."""
    index = DedupIndex()
    parent = list(range(len(examples)))
    by_line: dict[int, int] = {}
    for i, v in enumerate(index.views(examples)):
        matches = index.find(v)
        matches += [m for m in _prompt_matches(index, v)]
        for m in matches:
            a, b = _find(parent, i), _find(parent, by_line[m.line])
            parent[a] = b
        by_line[i + 1] = i
        index.insert(v, i + 1)
    return [_find(parent, i) for i in range(len(examples))]


def _prompt_matches(index: DedupIndex, v) -> list:
    hit = index.overlap(v)  # same or near prompt, even when answers agree
    return [hit] if hit else []


def split_path(path: str | Path, train_out: str | Path, eval_out: str | Path,
               eval_fraction: float = 0.1, seed: int = 0) -> SplitReport:
    """Split ``path`` into two files; rows are written exactly as they were."""
    if not 0 < eval_fraction < 1:
        raise LorakitError(f"--eval-fraction must be between 0 and 1, got {eval_fraction}")
    rows = list(iter_rows(path))
    bad = [r for r in rows if not r.ok]
    if bad:
        raise LorakitError(f"{len(bad)} rows have errors (first: line {bad[0].line}: "
                           f"{bad[0].findings[0].message if bad[0].findings else 'invalid'})",
                           path=path, fix=f"run `lorakit data clean {path}` first")
    group = groups_of([r.example for r in rows])

    # shuffle whole groups with the seed; eval takes groups until it is full
    members: dict[int, list[int]] = {}
    for i, g in enumerate(group):
        members.setdefault(g, []).append(i)
    order = sorted(members)
    random.Random(seed).shuffle(order)
    want = max(1, round(len(rows) * eval_fraction))
    eval_ids: set[int] = set()
    for g in order:
        if len(eval_ids) >= want:
            break
        if len(eval_ids) + len(members[g]) <= want or not eval_ids:
            eval_ids.update(members[g])
    train_lines = [rows[i].raw for i in range(len(rows)) if i not in eval_ids]
    eval_lines = [rows[i].raw for i in sorted(eval_ids)]
    atomic_write_text(train_out, "".join(s + "\n" for s in train_lines))
    atomic_write_text(eval_out, "".join(s + "\n" for s in eval_lines))
    grouped = sum(len(m) for m in members.values() if len(m) > 1)
    return SplitReport(str(path), str(train_out), str(eval_out), len(rows), len(train_lines),
                       len(eval_lines), len(members), grouped, seed)
