"""merge (checked against the adapter), the vLLM command, and the adapters CLI."""

from __future__ import annotations

import json
import shlex

import pytest
import torch
from click.testing import CliRunner

from lorakit.adapters.export import export_vllm, vllm_rank
from lorakit.adapters.merge import merge_adapter
from lorakit.adapters.registry import Registry
from lorakit.cli import cli
from lorakit.core.errors import LorakitError
from test_registry import make_peft_adapter


@pytest.fixture(scope="module")
def pair(tiny_base, tmp_path_factory):
    root = tmp_path_factory.mktemp("adapters")
    return {"alpha": make_peft_adapter(tiny_base, root / "alpha", seed=1, rank=4),
            "beta": make_peft_adapter(tiny_base, root / "beta", seed=2, rank=12)}


def test_merge_matches_adapter_and_reloads(pair, tiny_base, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    reg = Registry()
    reg.register(pair["alpha"], name="alpha", base=str(tiny_base))
    report = merge_adapter("alpha", tmp_path / "merged", registry=reg)
    assert report["max_logit_diff"] < 1e-3 and report["greedy_match"] == "3/3"
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    assert not any("lora" in n for n, _ in merged.named_parameters())
    # the merged weights really carry the adapter: they differ from the base's output
    ids = torch.tensor([[1, 2, 3, 4]])
    base = AutoModelForCausalLM.from_pretrained(tiny_base)
    adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_base),
                                        str(pair["alpha"]))
    with torch.no_grad():
        m, b, a = (x(input_ids=ids).logits for x in (merged, base, adapter))
    assert (m - a).abs().max() < 1e-3 < (m - b).abs().max()
    assert json.loads((tmp_path / "merged" / "lorakit_merge.json").read_text())["adapter"] \
        == "alpha"
    with pytest.raises(LorakitError, match="not empty"):
        merge_adapter("alpha", tmp_path / "merged", registry=reg)


def test_vllm_command_and_files(pair, tiny_base, tmp_path):
    reg = Registry()
    for name, folder in pair.items():
        reg.register(folder, name=name, base=str(tiny_base))
    result = export_vllm(["alpha", "beta"], out=tmp_path / "deploy", registry=reg, port=9000)
    argv = result["command"]
    assert argv[:3] == ["vllm", "serve", str(tiny_base.resolve())]
    assert "--enable-lora" in argv
    assert argv[argv.index("--max-lora-rank") + 1] == "16"  # ranks 4 and 12 -> 16
    assert argv[argv.index("--max-loras") + 1] == "2"
    mods = argv[argv.index("--lora-modules") + 1:]
    assert mods == [f"alpha={pair['alpha'].resolve()}", f"beta={pair['beta'].resolve()}"]
    script = (tmp_path / "deploy" / "serve_vllm.sh").read_text()
    assert shlex.split(script.splitlines()[-1])[1:] == argv  # `exec` + the same argv
    listed = json.loads((tmp_path / "deploy" / "lora_modules.json").read_text())
    assert [m["rank"] for m in listed["adapters"]] == [4, 12]


def test_vllm_rank_rounding_and_limits():
    assert vllm_rank([4]) == 8 and vllm_rank([16]) == 16 and vllm_rank([33, 8]) == 64
    with pytest.raises(LorakitError):
        vllm_rank([1024])


def test_serve_engine_vllm_prints_command(pair, tmp_path):
    result = CliRunner().invoke(cli, ["serve", "--engine", "vllm", "--adapter",
                                      f"alpha={pair['alpha']}", "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["max_lora_rank"] == 8 and out["adapters"][0]["name"] == "alpha"


def test_adapters_cli_add_list_show_compare_rm(pair, tiny_base):
    run = CliRunner().invoke
    r = run(cli, ["adapters", "add", str(pair["alpha"]), "--base", str(tiny_base),
                  "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["name"] == "alpha"
    run(cli, ["adapters", "add", str(pair["beta"]), "--base", str(tiny_base)])
    listed = json.loads(run(cli, ["adapters", "list", "--format", "json"]).output)
    assert [a["name"] for a in listed["adapters"]] == ["alpha", "beta"]
    assert "rank: 12" in run(cli, ["adapters", "show", "beta"]).output
    r = run(cli, ["adapters", "compare", "alpha", "beta", "--prompt", "hi", "--max-tokens",
                  "4", "--format", "json"])
    assert r.exit_code == 0, r.output
    outputs = json.loads(r.stdout)["answers"][0]["outputs"]
    assert set(outputs) == {"alpha", "beta", "base"}
    assert len(set(outputs.values())) == 3  # each adapter answers differently
    assert run(cli, ["adapters", "rm", "alpha"]).exit_code == 0
    r = run(cli, ["adapters", "show", "alpha"])
    assert r.exit_code != 0 and "no adapter named" in str(r.exception)
