"""Round-two contracts: pii is an error, whitespace repair, junk bytes, csv/jsonl import."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lorakit.data import content
from lorakit.data.check import check_path
from lorakit.data.clean import clean_path
from lorakit.data.importer import import_path
from test_data_check import GOOD, by_check, chat, write
from test_data_clean import read_jsonl
from test_data_cli import lorakit  # noqa: F401 - the in-process CLI fixture

PII_ROWS = [
    chat("Mail me at jane.roe@gmail.com", "Will do."),                            # 4
    chat("Call me on (415) 284-3391 please", "Sure."),                            # 5
    chat("My card is 4111 1111 1111 1111, why declined?", "Check the ZIP."),      # 6
    chat("Refund to DE89 3704 0044 0532 0130 00", "Done."),                       # 7
    chat("My SSN is 123-45-6789", "Please never share that."),                     # 8
    chat("Send it to 48 Orchard Lane, Millbrook", "Done, on its way."),           # 9
]


def test_pii_is_an_error_and_each_kind_is_found(tmp_path):
    path = write(tmp_path / "a.jsonl", GOOD + PII_ROWS)
    report = check_path(path)
    assert by_check(report)["pii"] == [4, 5, 6, 7, 8, 9]
    assert all(f.severity == "error" for f in report.findings) and report.exit_code == 1
    kinds = " ".join(f.message for f in report.findings)
    for kind in ("email", "phone", "card number", "IBAN", "social security", "street address"):
        assert kind in kinds


def test_placeholders_and_near_misses_are_not_pii(tmp_path):
    rows = [chat("Write to help@example.com or call 555-0142", "Or visit docs.test."),
            chat("My card 4111 1111 1111 1112 is fake", "Not Luhn-valid."),
            chat("Router at 192.168.1.20, version 1.2.3.4", "Private address.")]
    assert check_path(write(tmp_path / "a.jsonl", GOOD + rows)).findings == []


def test_clean_rejects_pii_rows_with_the_reason_and_loses_nothing(tmp_path):
    src = write(tmp_path / "raw.jsonl", GOOD + PII_ROWS)
    out, rej = tmp_path / "o.jsonl", tmp_path / "r.jsonl"
    report = clean_path(src, out, rej)
    assert (report.rows_in, report.kept, report.rejected) == (9, 3, 6)
    rejects = read_jsonl(rej)
    assert [r["line"] for r in rejects] == [4, 5, 6, 7, 8, 9]
    assert all(r["reasons"][0]["check"] == "pii" and r["row"] for r in rejects)
    assert check_path(out).errors == 0


@pytest.mark.parametrize("raw, fixed", [
    ("a\u00a0b\u2009c\u3000d", "a b c d"),
    ("two  spaces\tand\t\ttabs", "two spaces and tabs"),
    ("trailing   \nline", "trailing\nline"),
    ("crlf\r\nline\rend", "crlf\nline\nend"),
    ("para\n\n\n\n\nnext", "para\n\nnext"),
    ("keep\nsingle\n\nand paragraph", "keep\nsingle\n\nand paragraph"),
    ("Code:\n```\ndef f():\n    return  1\n```", "Code:\n```\ndef f():\n    return  1\n```"),
    ("  - indented item\n    - nested", "- indented item\n    - nested"),
    ("Run `ls  -l` then  go", "Run `ls  -l` then go"),
])
def test_fix_whitespace(raw, fixed):
    assert content.fix_whitespace(raw) == fixed


def test_clean_counts_whitespace_repairs(tmp_path):
    rows = GOOD + [chat("When\u00a0does  my\tbike ship?  ", "It ships\r\ntoday.\n\n\n\nThanks.")]
    out, rej = tmp_path / "o.jsonl", tmp_path / "r.jsonl"
    report = clean_path(write(tmp_path / "raw.jsonl", rows), out, rej)
    assert report.repairs["whitespace"] == 1 and report.repaired == 1
    msgs = read_jsonl(out)[3]["messages"]
    assert msgs[1]["content"] == "When does my bike ship?"
    assert msgs[2]["content"] == "It ships\ntoday.\n\nThanks."


def _bytes_row(question: str, answer: bytes) -> bytes:
    head = json.dumps(chat(question, "@@")).encode()
    return head.replace(b"@@", answer)


def test_stray_bytes_are_stripped_not_kept_as_text(tmp_path):
    path = tmp_path / "raw.jsonl"
    good = [json.dumps(r).encode() for r in GOOD]
    path.write_bytes(b"\n".join(good + [
        _bytes_row("Is it shipped?",                                      # BOM bytes: stripped
                   b"Hey there, rider!\xff\xfe Your order ships today, so watch your inbox."),
        _bytes_row("When does the cafe open?",                            # cp1252: repaired
                   b"Caf\xe9 opens at nine \x97 see you there."),
        _bytes_row("Anything else?", b"\x81\x8d\x8f\x90\x9d\x81\x8d\x8f\x90\x9d ok"),  # junk
    ]) + b"\n")
    assert by_check(check_path(path))["invalid_encoding"] == [4, 5, 6]
    out, rej = tmp_path / "o.jsonl", tmp_path / "r.jsonl"
    report = clean_path(path, out, rej)
    kept = read_jsonl(out)
    assert kept[3]["messages"][2]["content"] == (
        "Hey there, rider! Your order ships today, so watch your inbox.")
    assert kept[4]["messages"][2]["content"] == "Café opens at nine — see you there."
    assert report.repairs["junk"] == 1 and report.repairs["encoding"] == 2
    [r] = read_jsonl(rej)
    assert r["line"] == 6 and r["reasons"][0]["check"] == "invalid_encoding"
    after = check_path(out)
    assert after.findings == [], [f.to_dict() for f in after.findings]


def test_junk_in_valid_utf8_is_found_and_repaired(tmp_path):
    rows = GOOD + [chat("Price?", "It is \ufffd5, see \ue000the list.")]
    path = write(tmp_path / "a.jsonl", rows)
    [f] = check_path(path).findings
    assert (f.check, f.line, f.severity) == ("invalid_encoding", 4, "error")
    out = tmp_path / "o.jsonl"
    clean_path(path, out, tmp_path / "r.jsonl")
    assert read_jsonl(out)[3]["messages"][2]["content"] == "It is 5, see the list."


@pytest.mark.parametrize("fmt, name, body", [
    ("csv", "news.txt", 'article,summary\n"Rain, then sun.",Weather mixed.\n'),
    ("jsonl", "news.data", '{"article": "Rain, then sun.", "summary": "Weather mixed."}\n'),
])
def test_csv_and_jsonl_are_column_mapping_formats(tmp_path, fmt, name, body):
    src, out = tmp_path / name, tmp_path / "out.jsonl"
    src.write_text(body)
    report = import_path(src, out, fmt, {"article": "user", "summary": "assistant"},
                         system="Summarize.")
    assert report.imported == 1 and report.format == fmt
    [row] = [json.loads(s) for s in out.read_text().splitlines()]
    assert [(m["role"], m["content"]) for m in row["messages"]] == [
        ("system", "Summarize."), ("user", "Rain, then sun."), ("assistant", "Weather mixed.")]


def test_csv_without_a_mapping_is_a_usage_error(tmp_path, lorakit):  # noqa: F811
    src = tmp_path / "a.csv"
    src.write_text("q,a\nhi,hello\n")
    result = lorakit("data", "import", str(src), "--from", "csv", "--out",
                     str(tmp_path / "o.jsonl"))
    assert result.returncode == 2 and "--map" in result.stderr


def test_import_help_names_every_format_with_an_example(lorakit):  # noqa: F811
    from lorakit.data.formats import FORMATS

    text = lorakit("data", "import", "--help").stdout
    for fmt in FORMATS:
        assert f"--from {fmt} " in text, fmt


TEXT = st.text(alphabet=st.sampled_from(list("ab c\t\n\r`\u00a0\u2009\ufffd\x01\x85é")),
               max_size=60)


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_whitespace_repair_is_idempotent_and_keeps_the_words(text):
    fixed = content.fix_whitespace(text)
    assert content.fix_whitespace(fixed) == fixed
    words = "".join(ch for ch in text if ch.isalnum() or ch in "`\ufffd")
    assert "".join(ch for ch in fixed if ch.isalnum() or ch in "`\ufffd") == words


@settings(max_examples=100, deadline=None)
@given(TEXT)
def test_stripped_junk_leaves_no_junk(text):
    stripped = content.strip_junk("A sentence long enough to carry a little noise. " + text)
    assert stripped is None or content.find_junk(stripped) is None
