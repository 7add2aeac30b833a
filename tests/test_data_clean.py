"""data clean: repairs, first-of-duplicates, rejects with reasons, output passes check."""

from __future__ import annotations

import json

from lorakit.data.check import check_path
from lorakit.data.clean import clean_path
from test_data_check import GOOD, chat, write


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]


def test_clean_repairs_rejects_and_accounts_for_every_row(tmp_path, tiny_tokenizer):
    rows = GOOD + [
        chat("Is it cafÃ© or not?", "Itâ€™s   fine.  \n\n\n\n"),            # 4 repaired
        chat("Bold?", "<p>Yes: <b>always</b> &amp; forever.</p>"),         # 5 repaired
        {"messages": [{"role": "human", "content": "Hi there"},
                      {"role": "gpt", "content": "Hello, how can I help?"}]},  # 6 roles
        GOOD[0],                                                           # 7 duplicate
        "{broken",                                                         # 8 invalid json
        {"messages": [{"role": "user", "content": "No answer?"}]},        # 9
        chat("Long " * 3000, "ok"),                                        # 10 too long
    ]
    src = write(tmp_path / "raw.jsonl", rows)
    out, rej = tmp_path / "clean.jsonl", tmp_path / "rejects.jsonl"
    report = clean_path(src, out, rej, tokenizer=tiny_tokenizer, max_tokens=512)
    assert report.rows_in == 10 == report.kept + report.rejected
    assert (report.kept, report.rejected) == (6, 4)
    kept = read_jsonl(out)
    assert kept[3]["messages"][1]["content"] == "Is it café or not?"
    assert kept[3]["messages"][2]["content"] == "It’s fine."
    assert kept[4]["messages"][2]["content"] == "Yes: always & forever."
    assert [m["role"] for m in kept[5]["messages"]] == ["user", "assistant"]
    rejects = read_jsonl(rej)
    assert [r["line"] for r in rejects] == [7, 8, 9, 10]
    assert rejects[0]["reasons"][0]["check"] == "exact_duplicate"
    assert rejects[0]["reasons"][0]["related"]["line"] == 1
    assert rejects[1]["raw"] == "{broken" and "row" not in rejects[1]
    assert rejects[3]["reasons"][0]["check"] == "too_long"
    assert report.repairs["mojibake"] == 1 and report.repairs["markup"] == 1
    after = check_path(out, tokenizer=tiny_tokenizer, max_tokens=512)
    assert after.errors == 0, [f.to_dict() for f in after.findings]


def test_clean_drops_train_rows_that_overlap_eval(tmp_path):
    train = write(tmp_path / "train.jsonl", GOOD)
    held = write(tmp_path / "held.jsonl", [GOOD[1]])
    out, rej = tmp_path / "o.jsonl", tmp_path / "r.jsonl"
    report = clean_path(train, out, rej, eval_path=held)
    assert (report.kept, report.rejected) == (2, 1)
    [r] = read_jsonl(rej)
    assert r["line"] == 2 and r["reasons"][0]["check"] == "eval_overlap"
    assert r["reasons"][0]["related"] == {"path": held, "line": 1}
    assert check_path(out, eval_path=held).errors == 0


def test_clean_keeps_unknown_fields_and_meta(tmp_path):
    row = dict(GOOD[0], meta={"id": "a1"}, category="account")
    src = write(tmp_path / "raw.jsonl", [row])
    out = tmp_path / "o.jsonl"
    clean_path(src, out, tmp_path / "r.jsonl")
    assert read_jsonl(out) == [row]
