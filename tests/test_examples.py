"""The shipped examples: clean sets check clean, every planted defect is found where listed."""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

import pytest

from lorakit.data.check import check_path
from lorakit.data.clean import clean_path

ROOT = Path(__file__).resolve().parents[1]
SUPPORT = ROOT / "examples" / "support"


def _short(path: str) -> str:
    """A finding's path relative to the repository (the form defects.json uses)."""
    p = Path(path)
    return str(p.resolve().relative_to(ROOT)) if p.is_absolute() else str(p)


@pytest.fixture(scope="module")
def messy_report(tiny_tokenizer):
    """`data check raw_messy.jsonl --eval heldout.jsonl` with the default base's tokenizer."""
    return check_path(SUPPORT / "raw_messy.jsonl", SUPPORT / "heldout.jsonl", tiny_tokenizer,
                      progress=False)


@pytest.mark.parametrize("name", ["support", "summarizer"])
def test_clean_example_sets_pass_check(name, tiny_tokenizer):
    folder = ROOT / "examples" / name
    report = check_path(folder / "train.jsonl", folder / "heldout.jsonl", tiny_tokenizer,
                        progress=False)
    assert report.errors == 0, [f.to_dict() for f in report.findings if f.severity == "error"]
    assert report.rows >= (150 if name == "support" else 80)
    assert report.summary["eval_rows"] >= (30 if name == "support" else 20)


def _found(report) -> set[tuple[str, int, str, tuple | None]]:
    out = set()
    for f in report.findings:
        rel = (_short(f.related["path"]), f.related["line"]) if f.related else None
        out.add((_short(f.path), f.line, f.check, rel))
    return out


def _listed() -> list[dict]:
    return json.loads((SUPPORT / "defects.json").read_text(encoding="utf-8"))


def test_every_planted_defect_is_reported_at_its_line(messy_report):
    found = _found(messy_report)
    expected = [d for d in _listed() if d["check"]]
    assert len(expected) > 50
    missing = []
    for d in expected:
        rel = d.get("related")
        key = (d["path"], d["line"], d["check"], (rel["path"], rel["line"]) if rel else None)
        if key not in found:
            missing.append(key)
    assert not missing


def test_nothing_is_reported_that_was_not_planted(messy_report):
    listed = {(d["path"], d["line"], d["check"]) for d in _listed() if d["check"]}
    extra = {k[:3] for k in _found(messy_report)} - listed
    assert not extra


def test_defects_md_lists_every_record():
    text = (SUPPORT / "DEFECTS.md").read_text(encoding="utf-8")
    assert "{summary}" not in text and "| personal data | pii | 6 |" in text
    for d in _listed():
        assert f"| {d['path']}:{d['line']} | {d['defect']} |" in text


def test_make_messy_is_deterministic(monkeypatch):
    monkeypatch.syspath_prepend(str(SUPPORT))  # make_messy imports defects_doc beside it
    spec = importlib.util.spec_from_file_location("make_messy", SUPPORT / "make_messy.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    train, heldout = ([json.loads(s) for s in (SUPPORT / n).read_text("utf-8").splitlines()]
                      for n in ("train.jsonl", "heldout.jsonl"))
    out = mod.plant(train, heldout, random.Random(mod.SEED))
    assert b"".join(d + b"\n" for d, *_ in out) == (SUPPORT / "raw_messy.jsonl").read_bytes()
    assert mod.expected(out, train, mod.EXPECT) == _listed()


def test_messy_set_cleans_to_a_file_with_no_errors(tmp_path, tiny_tokenizer):
    raw, held = SUPPORT / "raw_messy.jsonl", SUPPORT / "heldout.jsonl"
    out, rej = tmp_path / "clean.jsonl", tmp_path / "rejects.jsonl"
    report = clean_path(raw, out, rej, held, tiny_tokenizer, progress=False)
    assert report.rows_in == 218 == report.kept + report.rejected
    after = check_path(out, held, tiny_tokenizer, progress=False)
    assert after.errors == 0, [f.to_dict() for f in after.findings]
    left = {f.check for f in after.findings}
    assert not left & {"mojibake", "invalid_encoding", "pii"}
    assert "\u00ff\u00fe" not in out.read_text(encoding="utf-8")
