"""The dedup index: signatures equal datasketch's, thresholds, parallel == serial."""

from __future__ import annotations

import json

import numpy as np
from datasketch import MinHash

from lorakit.core.example import Example, Message
from lorakit.data.check import check_path
from lorakit.data.dedup import DedupIndex, jaccard, shingles


def ex(user: str, answer: str) -> Example:
    return Example([Message("user", user), Message("assistant", answer)])


def test_signatures_equal_a_fresh_datasketch_minhash():
    index = DedupIndex()
    sets = [shingles("the quick brown fox jumps over the lazy dog"), shingles(""),
            shingles("hello world")]
    for values, sig in zip(sets, index.signatures(sets)):
        if values.size == 0:
            assert sig is None
            continue
        m = MinHash(num_perm=index.num_perm, seed=1, scheme="affine32", hashfunc=int)
        m.update_batch(values.tolist())
        assert np.array_equal(m.hashvalues, sig)


def test_jaccard_is_exact_and_ignores_repeats():
    a, b = shingles("a b c d"), shingles("a b c e")
    # unigrams {a,b,c,d} vs {a,b,c,e}, bigrams {ab,bc,cd} vs {ab,bc,ce}: 5 shared of 9
    assert jaccard(a, b) == 5 / 9
    assert jaccard(np.concatenate([a, a]), b) == 5 / 9


def test_find_orders_and_kinds():
    index = DedupIndex()
    rows = [ex("How do I reset my password today?", "Open Settings and press Reset now."),
            ex("Where is my parcel?", "Check the tracking link in your email."),
            ex("How do I reset my password today?", "Call us and we will do it for you."),
            ex("Where is my parcel?", "Check the tracking link in your email please.")]
    found = []
    for line, v in enumerate(index.views(rows), start=1):
        found.append([(m.check, m.line) for m in index.find(v)])
        index.insert(v, line)
    assert found == [[], [], [("conflicting_answers", 1)], [("near_duplicate", 2)]]


def test_worker_processes_give_the_same_findings(tmp_path):
    rows = []
    for i in range(300):
        rows.append({"messages": [{"role": "user", "content": f"question {i} about item {i}"},
                                  {"role": "assistant", "content": f"answer {i} for {i}"}]})
    rows += rows[:20]
    path = tmp_path / "a.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    serial = check_path(path, workers=1).to_dict()
    parallel = check_path(path, workers=2).to_dict()
    assert serial == parallel and serial["summary"]["by_check"]["exact_duplicate"]["count"] == 20


def test_signatures_of_a_chunk_equal_one_by_one():
    index = DedupIndex()
    sets = [shingles(f"row {i} " + "word " * (i % 7)) for i in range(50)] + [shingles("")]
    together = index.signatures(sets)
    for values, sig in zip(sets, together):
        alone = index.signatures([values])[0]
        assert (sig is None and alone is None) or np.array_equal(sig, alone)


def test_benchmark_recall_on_planted_pairs(tmp_path):
    import sys
    from collections import Counter
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from dedup_bench import generate

    rows, planted = generate(3000, seed=1)
    path = tmp_path / "bench.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    found = Counter(f.check for f in check_path(path, progress=False, workers=1).findings)
    assert found["exact_duplicate"] == planted["exact_duplicate"]
    assert found["near_duplicate"] == planted["near_duplicate"]
    assert found["conflicting_answers"] >= planted["conflicting_answers"]
