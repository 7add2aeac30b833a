"""Step plans: deterministic, length-grouped, within budget, every row once per epoch."""

from __future__ import annotations

from lorakit.core.template import IGNORE, Rendered
from lorakit.train import batching


def _rows(lengths: list[int]) -> list[Rendered]:
    out = []
    for n in lengths:
        labels = [IGNORE] * (n // 2) + list(range(n - n // 2))
        out.append(Rendered(list(range(n)), labels, n, n - n // 2))
    return out


LENGTHS = [5 + (i * 37) % 90 for i in range(100)]


def test_plan_is_deterministic_and_covers_each_row_once():
    rendered = _rows(LENGTHS)
    rows = batching.usable(rendered)
    a = batching.plan_epoch(rendered, rows, seed=1, epoch=0, tokens_per_step=300, batch_size=8)
    b = batching.plan_epoch(rendered, rows, seed=1, epoch=0, tokens_per_step=300, batch_size=8)
    c = batching.plan_epoch(rendered, rows, seed=1, epoch=1, tokens_per_step=300, batch_size=8)
    assert [s.rows for s in a] == [s.rows for s in b]
    assert [s.rows for s in a] != [s.rows for s in c]  # each epoch reshuffles
    assert sorted(i for s in a for i in s.rows) == rows
    for s in a:
        assert len(s.rows) <= 8 and (s.n_tokens <= 300 or len(s.rows) == 1)
        assert s.n_tokens == sum(LENGTHS[i] for i in s.rows)  # real tokens, no padding


def test_length_grouping_keeps_padding_small():
    rendered = _rows(LENGTHS)
    steps = batching.plan_epoch(rendered, batching.usable(rendered), 0, 0, 400, 16)
    padded = sum(max(LENGTHS[i] for i in s.rows) * len(s.rows) for s in steps)
    assert padded < 1.25 * sum(LENGTHS)


def test_shards_split_a_step_between_ranks():
    step = batching.Step(list(range(7)), 0, 0)
    parts = [batching.shard(step, r, 2) for r in range(2)]
    assert sorted(parts[0] + parts[1]) == step.rows


def test_zero_trained_rows_are_not_usable_and_collate_masks_padding():
    rendered = _rows([6, 4]) + [Rendered([1, 2, 3], [IGNORE] * 3, 3, 0)]
    assert batching.usable(rendered) == [0, 1]
    batch = batching.collate(rendered, [0, 1], pad_id=0)
    assert batch["attention_mask"].sum() == 10
    assert (batch["labels"][1, 4:] == IGNORE).all()
    assert batching.micro_batches(rendered, [0, 1], max_padded=6) == [[1], [0]]
