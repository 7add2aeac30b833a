"""data import: each source format to canonical rows, with source lines kept."""

from __future__ import annotations

import json

import pytest

from lorakit.core.errors import UsageError
from lorakit.data.check import check_path
from lorakit.data.importer import import_path, parse_mapping


def rows_of(path) -> list[dict]:
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def roles(row: dict) -> list[str]:
    return [m["role"] for m in row["messages"]]


@pytest.mark.parametrize("record, fmt, expected", [
    ({"instruction": "Add", "input": "2 and 3", "output": "5", "id": 7}, "alpaca",
     [("user", "Add\n\n2 and 3"), ("assistant", "5")]),
    ({"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hey"}]},
     "sharegpt", [("user", "Hi"), ("assistant", "Hey")]),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                   {"role": "assistant", "content": "Hey"}]}, "openai",
     [("user", "Hi"), ("assistant", "Hey")]),
    ({"prompt": "2+2?", "completion": "4"}, "prompt_completion",
     [("user", "2+2?"), ("assistant", "4")]),
])
def test_formats_detected_and_converted(tmp_path, record, fmt, expected):
    src, out = tmp_path / "src.jsonl", tmp_path / "out.jsonl"
    src.write_text("\n" + json.dumps(record) + "\n")
    report = import_path(src, out)
    assert report.format == fmt and report.imported == 1
    [row] = rows_of(out)
    assert [(m["role"], m["content"]) for m in row["messages"]] == expected
    assert row["meta"]["source"] == {"path": str(src), "line": 2, "format": fmt}
    assert check_path(out).errors == 0


def test_csv_with_mapping_and_system(tmp_path):
    src, out = tmp_path / "news.csv", tmp_path / "out.jsonl"
    src.write_text('id,article,summary\n1,"A long\nstory.",Short.\n2,Second one.,Two.\n')
    mapping = parse_mapping(["article=user", "summary=assistant", "id=meta"])
    report = import_path(src, out, mapping=mapping, system="Summarize.")
    assert report.imported == 2
    first, second = rows_of(out)
    assert roles(first) == ["system", "user", "assistant"]
    assert first["messages"][1]["content"] == "A long\nstory."
    assert first["meta"]["id"] == "1" and first["meta"]["source"]["line"] == 2
    assert second["meta"]["source"]["line"] == 4


def test_json_array_records_keep_their_lines(tmp_path):
    src, out = tmp_path / "alpaca.json", tmp_path / "out.jsonl"
    items = [{"instruction": "A", "output": "a"}, {"instruction": "B", "output": "b"}]
    src.write_text(json.dumps(items, indent=2))
    import_path(src, out, "alpaca")
    assert [r["meta"]["source"]["line"] for r in rows_of(out)] == [2, 6]


def test_bad_records_are_reported_not_dropped_silently(tmp_path):
    src, out, rej = tmp_path / "s.jsonl", tmp_path / "o.jsonl", tmp_path / "r.jsonl"
    src.write_text('{"prompt": "a", "completion": "b"}\n{oops\n{"prompt": "only"}\n')
    report = import_path(src, out, "prompt_completion", rejects=rej)
    assert (report.rows_in, report.imported, report.failed) == (3, 1, 2)
    assert [(f.line, f.check) for f in report.findings] == [(2, "invalid_json"),
                                                            (3, "invalid_schema")]
    assert [r["line"] for r in rows_of(rej)] == [2, 3]


def test_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="did you mean 'assistant'"):
        parse_mapping(["summary=asistant"])
    src = tmp_path / "s.jsonl"
    src.write_text('{"foo": 1}\n')
    with pytest.raises(UsageError, match="cannot tell the format"):
        import_path(src, tmp_path / "o.jsonl")
    with pytest.raises(UsageError, match="did you mean 'alpaca'"):
        import_path(src, tmp_path / "o.jsonl", "alpacca")
