"""The data commands and init through the CLI: exit codes, JSON output, templates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

from lorakit.cli import main
from test_data_check import GOOD, write


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture()
def lorakit(capsys):
    """Run the real entry point in-process (one transformers import for all calls)."""

    def run(*args: str, cwd=None) -> Result:
        old = os.getcwd()
        capsys.readouterr()
        try:
            if cwd:
                os.chdir(cwd)
            with pytest.raises(SystemExit) as exit_:
                main(list(args))
        finally:
            os.chdir(old)
        out = capsys.readouterr()
        return Result(exit_.value.code or 0, out.out, out.err)

    return run


@pytest.fixture()
def tiny_base_arg(tiny_base) -> str:
    return str(tiny_base)


def test_check_exit_codes_and_json(tmp_path, tiny_base_arg, lorakit):
    clean = write(tmp_path / "clean.jsonl", GOOD)
    dirty = write(tmp_path / "dirty.jsonl", GOOD + [GOOD[0], "nope"])
    ok = lorakit("data", "check", clean, "--base", tiny_base_arg)
    assert ok.returncode == 0 and "no errors" in ok.stdout
    bad = lorakit("data", "check", dirty, "--base", tiny_base_arg, "--format", "json")
    assert bad.returncode == 1
    out = json.loads(bad.stdout)
    assert out["rows"] == 5
    assert {(f["check"], f["line"]) for f in out["findings"]} == {
        ("exact_duplicate", 4), ("invalid_json", 5)}
    text = lorakit("data", "check", dirty, "--base", tiny_base_arg)
    assert "dirty.jsonl:4" in text.stdout and "2 errors in 2 rows" in text.stdout
    usage = lorakit("data", "check", dirty, "--max-tokens", "lots")
    assert usage.returncode == 2
    missing = lorakit("data", "check", str(tmp_path / "none.jsonl"), "--base", tiny_base_arg)
    assert missing.returncode == 1 and "file not found" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_clean_then_check_passes(tmp_path, tiny_base_arg, lorakit):
    dirty = write(tmp_path / "dirty.jsonl", GOOD + [GOOD[0], "nope"])
    out, rej = str(tmp_path / "o.jsonl"), str(tmp_path / "r.jsonl")
    res = lorakit("data", "clean", dirty, "--out", out, "--rejects", rej,
                  "--base", tiny_base_arg, "--format", "json")
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout)
    assert (d["rows_in"], d["kept"], d["rejected"]) == (5, 3, 2)
    assert lorakit("data", "check", out, "--base", tiny_base_arg).returncode == 0


@pytest.mark.parametrize("template", ["support-bot", "summarizer", "classifier"])
def test_init_templates_pass_check(tmp_path, tiny_base_arg, template, lorakit):
    target = tmp_path / "proj"
    res = lorakit("init", template, str(target))
    assert res.returncode == 0, res.stderr
    assert "lorakit train lorakit.yaml" in res.stdout
    from lorakit.core.config import load_config

    cfg = load_config(target / "lorakit.yaml")
    assert cfg.data.train == "data/train.jsonl"
    check = lorakit("data", "check", "data/train.jsonl", "--eval", "data/heldout.jsonl",
                    "--base", tiny_base_arg, cwd=target)
    assert check.returncode == 0, check.stdout
    again = lorakit("init", template, str(target))
    assert again.returncode == 1 and "not empty" in again.stderr


def test_python_m_lorakit_prints_no_traceback(tmp_path):
    res = subprocess.run([sys.executable, "-m", "lorakit", "data", "split",
                          str(tmp_path / "none.jsonl"), "--train-out", "a", "--eval-out", "b"],
                         capture_output=True, text=True)
    assert res.returncode == 1 and "file not found" in res.stderr
    assert "Traceback" not in res.stderr
