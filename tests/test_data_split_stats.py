"""data split keeps near-duplicates together and is seeded; data stats counts tokens."""

from __future__ import annotations

import json

from lorakit.data.split import split_path
from lorakit.data.stats import stats_path


def _rows(n: int) -> list[dict]:
    topics = ["billing", "refunds", "shipping", "passwords", "accounts", "invoices",
              "returns", "warranty", "coupons", "exchanges"]
    rows = []
    for i in range(n):
        t = topics[i % len(topics)]
        q = f"Question {i} about {t}: how does item number {i * 7} work for me?"
        a = f"Answer {i}: for {t}, item {i * 7} works like this, step {i} then step {i + 1}."
        rows.append({"messages": [{"role": "user", "content": q},
                                  {"role": "assistant", "content": a}]})
    return rows


def test_split_is_seeded_and_keeps_near_duplicates_together(tmp_path):
    rows = _rows(60)
    twin = json.loads(json.dumps(rows[5]))
    twin["messages"][1]["content"] += " Thanks!"
    rows.append(twin)  # near-duplicate of row 6
    src = tmp_path / "all.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))

    def run(seed: int) -> tuple[list[str], list[str]]:
        tr, ev = tmp_path / f"t{seed}.jsonl", tmp_path / f"e{seed}.jsonl"
        report = split_path(src, tr, ev, eval_fraction=0.2, seed=seed)
        assert report.train + report.eval == 61 and report.grouped_rows == 2
        return tr.read_text().splitlines(), ev.read_text().splitlines()

    first, again, other = run(1), run(1), run(2)
    assert first == again and first != other
    for train, held in (first, other):
        assert 10 <= len(held) <= 14
        pair = {json.dumps(rows[5]), json.dumps(twin)}
        assert pair <= set(train) or pair <= set(held)


def test_stats_counts_tokens_and_roles(tmp_path, tiny_tokenizer):
    src = tmp_path / "a.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in _rows(10)) + "{bad\n")
    d = stats_path(src, tiny_tokenizer, max_tokens=40, context=2048).to_dict()
    assert d["rows"] == 11 and d["unusable_rows"] == 1
    assert d["messages_by_role"] == {"user": 10, "assistant": 10}
    assert d["tokens"]["total"] > d["trained_tokens"]["total"] > 0
    assert sum(b["rows"] for b in d["histogram"]) == 10
    from lorakit.core.template import count_tokens

    lengths = [count_tokens(tiny_tokenizer, r["messages"]) for r in _rows(10)]
    assert d["tokens"]["max"] == max(lengths) and d["tokens"]["total"] == sum(lengths)
    assert d["over_max_tokens"] == sum(1 for n in lengths if n > 40)
