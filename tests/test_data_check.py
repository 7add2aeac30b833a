"""data check: each check id on a row built to trip it, lines, JSON shape, exit codes."""

from __future__ import annotations

import json

import pytest

from lorakit.core.example import CHECKS
from lorakit.data.check import SEVERITY, check_path

SYS = "You are Pip, the Acme support bot."


def chat(user: str, answer: str, system: str | None = SYS) -> dict:
    msgs = [{"role": "system", "content": system}] if system else []
    return {"messages": msgs + [{"role": "user", "content": user},
                                {"role": "assistant", "content": answer}]}


GOOD = [
    chat("How do I reset my password?", "Open Settings, choose Security and press Reset."),
    chat("Where is my order?", "Your tracking link is in the confirmation email we sent."),
    chat("Can I change my plan later?", "Yes, switch plans any time from the Billing page."),
]


def write(path, rows) -> str:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def by_check(report) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for f in report.findings:
        out.setdefault(f.check, []).append(f.line)
    return out


def test_clean_file_has_no_findings(tmp_path):
    report = check_path(write(tmp_path / "a.jsonl", GOOD))
    assert report.rows == 3 and report.findings == [] and report.exit_code == 0


def test_every_row_level_check_fires_on_its_line(tmp_path, tiny_tokenizer):
    rows = GOOD + [
        '{"messages": [{"role": "user", "content": "trunc',                    # 4
        {"conversation": []},                                                  # 5
        {"messages": [{"role": "robot", "content": "hi"},
                      {"role": "assistant", "content": "hello"}]},             # 6
        chat("   ", "An answer to nothing."),                                  # 7
        {"messages": [{"role": "user", "content": "Only a question?"}]},       # 8
        chat("My email is jane.roe@gmail.com", "Thanks, noted."),              # 9
        chat("Is it cafÃ© or café?", "Itâ€™s café."),                          # 10
        chat("Bold?", "Yes: <b>always</b> &amp; forever."),                    # 11
        chat("Long " * 3000, "ok"),                                            # 12
    ]
    path = write(tmp_path / "a.jsonl", rows)
    found = by_check(check_path(path, tokenizer=tiny_tokenizer, max_tokens=512))
    assert found["invalid_json"] == [4]
    assert found["invalid_schema"] == [5]
    assert found["unknown_role"] == [6]
    assert found["empty_message"] == [7]
    assert found["no_assistant_turn"] == [8]
    assert found["pii"] == [9]
    assert found["mojibake"] == [10]
    assert found["markup"] == [11]
    assert found["too_long"] == [12]


def test_invalid_encoding_names_the_line(tmp_path):
    path = tmp_path / "a.jsonl"
    good = json.dumps(GOOD[0]).encode()
    bad = json.dumps(chat("Price?", "It costs 5 EUR \u2014 cheap.")).encode().replace(
        b"\\u2014", b"\x97")
    path.write_bytes(good + b"\n" + bad + b"\n")
    report = check_path(path)
    assert [(f.check, f.line) for f in report.findings] == [("invalid_encoding", 2)]


def test_pairs_name_the_earlier_row(tmp_path):
    long_answer = ("Open Settings, choose Security, press Reset and follow the link we "
                   "email you within five minutes; the link stays valid for a day.")
    rows = GOOD + [
        GOOD[1],                                                           # 4 exact of 2
        chat("How do I reset my password?", long_answer),                  # 5 conflicts 1
        chat("How do I reset my password?", long_answer + " Thanks!"),     # 6 near of 5
        chat("Refund?", "Refunds take 5 days."),                           # 7
        chat("Refund?", "Refunds take 9 days."),                           # 8 figures differ
    ]
    report = check_path(write(tmp_path / "a.jsonl", rows))
    pairs = {(f.check, f.line, f.related["line"]) for f in report.findings if f.related}
    assert ("exact_duplicate", 4, 2) in pairs
    assert ("conflicting_answers", 5, 1) in pairs
    assert ("near_duplicate", 6, 5) in pairs
    assert ("conflicting_answers", 8, 7) in pairs
    assert all(f.related["path"] == report.path for f in report.findings if f.related)


def test_eval_overlap_is_on_the_eval_row(tmp_path):
    train = write(tmp_path / "train.jsonl", GOOD)
    held = write(tmp_path / "held.jsonl", [chat("What is new?", "Dark mode."), GOOD[2]])
    report = check_path(train, eval_path=held)
    [f] = report.findings
    assert (f.check, f.path, f.line) == ("eval_overlap", held, 2)
    assert f.related == {"path": train, "line": 3}
    assert report.summary["eval_rows"] == 2


def test_json_shape_matches_the_contract(tmp_path):
    path = write(tmp_path / "a.jsonl", GOOD + [GOOD[0], "not json"])
    out = check_path(path).to_dict()
    assert set(out) == {"rows", "findings", "summary"} and out["rows"] == 5
    for f in out["findings"]:
        assert set(f) <= {"path", "line", "check", "severity", "message", "related"}
        assert f["check"] in CHECKS and f["severity"] == SEVERITY[f["check"]]
        assert isinstance(f["line"], int) and f["line"] >= 1
    json.dumps(out)


def test_bom_and_crlf_keep_source_lines(tmp_path):
    path = tmp_path / "a.jsonl"
    body = "\r\n".join(json.dumps(r) for r in GOOD + [GOOD[0]]) + "\r\n"
    path.write_bytes(b"\xef\xbb\xbf" + ("\r\n" + body).encode())
    report = check_path(path)
    assert report.rows == 4
    assert [(f.check, f.line, f.related["line"]) for f in report.findings] == [
        ("exact_duplicate", 5, 2)]


def test_reserved_example_domains_are_not_pii(tmp_path):
    rows = [chat("Contact?", "Write to help@acme.example or call 555-0123.")]
    assert check_path(write(tmp_path / "a.jsonl", rows)).findings == []


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_files_have_zero_rows(tmp_path, text):
    path = tmp_path / "a.jsonl"
    path.write_text(text)
    report = check_path(path)
    assert report.rows == 0 and report.exit_code == 1
    assert [(f.check, f.line) for f in report.findings] == [("invalid_schema", 1)]
