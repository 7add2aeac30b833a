"""Preflight: datasets built to have each silent failure, and the CLI around it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lorakit.core.config import load_config
from lorakit.core.errors import LorakitError
from lorakit.core.template import template_hash
from lorakit.train import preflight as pf


def _row(q: str, a: str | None) -> dict:
    msgs = [{"role": "user", "content": q}]
    if a is not None:
        msgs.append({"role": "assistant", "content": a})
    return {"messages": msgs}


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _cfg(tmp_path, base, data, **extra):
    overrides = {"data.train": str(data), "train.base": str(base),
                 "train.out": str(tmp_path / "out")}
    overrides.update(extra)
    return load_config(None, overrides)


GOOD = [_row(f"question {i}?", f"answer {i}. Cheers, Pip.") for i in range(6)]


def test_clean_data_passes_and_reports(tmp_path, tiny_base, tiny_tokenizer):
    report = pf.preflight(_cfg(tmp_path, tiny_base, _write(tmp_path / "t.jsonl", GOOD)))
    assert report.ok and not report.warnings
    assert report.template_hash == template_hash(tiny_tokenizer)
    d = report.to_dict()
    assert d["rows"] == 6 and 0 < d["trained_share"] < 1
    assert d["trained_tokens"] < d["tokens"] and d["steps_per_epoch"] >= 1
    assert d["est_seconds_per_epoch"] > 0 and d["est_peak_memory_gb"] > 0
    assert "preflight ok" in report.text()


def test_zero_trained_rows_are_named(tmp_path, tiny_base):
    rows = GOOD + [_row("no reply here", None)]
    report = pf.preflight(_cfg(tmp_path, tiny_base, _write(tmp_path / "t.jsonl", rows)))
    assert report.ok
    assert any("train zero tokens" in w and "t.jsonl:7" in w for w in report.warnings)


def test_all_rows_untrained_is_an_error(tmp_path, tiny_base):
    data = _write(tmp_path / "t.jsonl", [_row("a", None), _row("b", None)])
    cfg = _cfg(tmp_path, tiny_base, data)
    report = pf.preflight(cfg)
    assert not report.ok and "no row trains any token" in report.errors[0]
    from lorakit.train.run import train

    with pytest.raises(LorakitError, match="preflight found problems"):
        train(cfg, report)


def test_truncated_assistant_turns_are_named(tmp_path, tiny_base):
    rows = GOOD + [_row("long one", "word " * 300)]
    cfg = _cfg(tmp_path, tiny_base, _write(tmp_path / "t.jsonl", rows), **{"data.max_tokens": 64})
    report = pf.preflight(cfg)
    assert report.ok  # a warning, not an error
    assert any("cut by data.max_tokens=64" in w and "t.jsonl:7" in w for w in report.warnings)


def test_template_without_end_of_turn_is_an_error(tmp_path, tiny_base):
    # a base whose template never closes assistant turns: the model would never stop
    broken = tmp_path / "broken-base"
    shutil.copytree(tiny_base, broken)
    (broken / "chat_template.jinja").write_text(
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}"
        "{% if m.role != 'assistant' %}<|im_end|>{% endif %}\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    report = pf.preflight(_cfg(tmp_path, broken, _write(tmp_path / "t.jsonl", GOOD)))
    assert not report.ok
    assert any("end-of-turn" in e and "never learn to stop" in e for e in report.errors)
    assert report.template_hash != pf.preflight(
        _cfg(tmp_path, tiny_base, tmp_path / "t.jsonl")).template_hash


def test_unwritable_output_is_an_error(tmp_path, tiny_base):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    cfg = _cfg(tmp_path, tiny_base, _write(tmp_path / "t.jsonl", GOOD),
               **{"train.out": str(blocker / "out")})
    report = pf.preflight(cfg)
    assert not report.ok and "cannot create the output folder" in report.errors[0]


def test_disk_full_is_an_error_before_training(tmp_path, tiny_base, monkeypatch):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(pf.shutil, "disk_usage",
                        lambda p: usage._replace(free=1024))
    report = pf.preflight(_cfg(tmp_path, tiny_base, _write(tmp_path / "t.jsonl", GOOD)))
    assert not report.ok and "not enough disk space" in report.errors[0]


def test_existing_adapter_needs_overwrite_or_resume(tmp_path, tiny_base):
    out = tmp_path / "out"
    out.mkdir()
    (out / "adapter_config.json").write_text("{}")
    data = _write(tmp_path / "t.jsonl", GOOD)
    assert not pf.preflight(_cfg(tmp_path, tiny_base, data)).ok
    assert pf.preflight(_cfg(tmp_path, tiny_base, data, **{"train.overwrite": True})).ok


def test_cli_dry_run_json_and_show_mask(tmp_path, tiny_base):
    data = _write(tmp_path / "t.jsonl", [_row("What is up?", "All good. Cheers, Pip.")])
    base = [sys.executable, "-m", "lorakit", "train", "--data", str(data), "--base",
            str(tiny_base), "--out", str(tmp_path / "out"), "--dry-run"]
    res = subprocess.run(base + ["--format", "json"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["ok"] is True
    res = subprocess.run(base + ["--show-mask", "1"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    # the reply and its end-of-turn are trained; the question is not
    assert "[[All good. Cheers, Pip.<|im_end|>]]" in res.stdout
    assert res.stdout.count("[[") == 2  # the legend line and the one reply
    bad = subprocess.run(base + ["--epochs", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "train.epochs must be positive" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_unfinished_run_needs_resume_or_overwrite(tmp_path, tiny_base):
    (tmp_path / "out" / "checkpoint-3").mkdir(parents=True)
    data = _write(tmp_path / "t.jsonl", GOOD)
    report = pf.preflight(_cfg(tmp_path, tiny_base, data))
    assert not report.ok and "unfinished run" in report.errors[0]
    assert pf.preflight(_cfg(tmp_path, tiny_base, data, **{"train.resume": True})).ok
