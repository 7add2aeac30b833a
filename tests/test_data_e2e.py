"""The demo's curation flow on the shipped examples, with the default base's tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest

from lorakit.data.check import check_path
from lorakit.data.clean import clean_path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.e2e
def test_messy_support_export_cleans_to_a_passing_file(tmp_path, default_base):
    from lorakit.core.models import load_tokenizer

    raw, held = EXAMPLES / "support" / "raw_messy.jsonl", EXAMPLES / "support" / "heldout.jsonl"
    if not raw.exists():
        pytest.skip("examples/support is not there")
    tokenizer = load_tokenizer(default_base)
    before = check_path(raw, held, tokenizer)
    assert before.errors > 0
    found = set(before.summary["by_check"])
    assert {"invalid_json", "exact_duplicate", "near_duplicate", "pii", "too_long",
            "eval_overlap"} <= found
    report = clean_path(raw, tmp_path / "clean.jsonl", tmp_path / "rejects.jsonl", held,
                        tokenizer)
    assert report.rows_in == before.rows == report.kept + report.rejected
    assert check_path(tmp_path / "clean.jsonl", held, tokenizer).errors == 0
    for name in ("support", "summarizer"):
        train, heldout = EXAMPLES / name / "train.jsonl", EXAMPLES / name / "heldout.jsonl"
        assert check_path(train, heldout, tokenizer).errors == 0
