"""lorakit eval on the tiny base: flags, JSON shape, template check, recording."""

from __future__ import annotations

import json

import pytest

from lorakit.core.errors import LorakitError, UsageError
from lorakit.eval.run import evaluate
from test_eval_helpers import make_adapter, make_other_base, write_rows

FAST = {"max_new_tokens": 6, "progress": False, "dtype": "float32", "forgetting": False}


@pytest.fixture(scope="module")
def setup(tiny_base, tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    return {
        "zero": make_adapter(tiny_base, root / "zero", scale=0.0),
        "changed": make_adapter(tiny_base, root / "changed", scale=0.5),
        "data": write_rows(root / "heldout.jsonl"),
        "root": root,
    }


def test_zero_adapter_is_flagged_and_changed_one_is_not(setup):
    result = evaluate(
        [setup["zero"], setup["changed"]], setup["data"], record=False, **FAST
    )
    zero, changed = result["adapters"]["zero"], result["adapters"]["changed"]
    assert zero["same_as_base"] == 1.0 and zero["loss"] == result["base"]["loss"]
    assert changed["same_as_base"] < 0.9 and changed["loss"] != result["base"]["loss"]
    unchanged = [f for f in result["flags"] if f["check"] == "unchanged"]
    assert [f["model"] for f in unchanged] == ["zero"]
    assert "never trained" in unchanged[0]["message"]


def test_json_shape_for_one_adapter(setup):
    result = evaluate(
        [setup["changed"]], setup["data"], record=False, **FAST | {"forgetting": True}
    )
    assert {"base", "adapter", "examples", "flags", "metric"} <= set(result)
    assert "adapters" not in result
    for key in (
        "loss",
        "exact_match",
        "rouge_l",
        "length_ok",
        "format_ok",
        "same_as_base",
        "general_loss",
        "forgetting",
    ):
        assert key in result["adapter"], key
    row = result["examples"][0]
    assert {"prompt", "reference", "base", "adapter"} <= set(row)
    assert row["prompt"] == "What is two plus two?" and row["reference"] == "4"
    assert result["metric"] == "exact_match"  # short answers
    json.dumps(result)  # JSON-able as is


def test_template_mismatch_is_an_error(setup, tiny_base):
    odd = make_adapter(tiny_base, setup["root"] / "odd", template="sha256:0000000000000000")
    with pytest.raises(LorakitError, match="chat template"):
        evaluate([odd], setup["data"], record=False, **FAST)


def test_adapters_of_different_bases_are_refused(setup, tiny_base, tmp_path):
    other = make_other_base(tiny_base, tmp_path / "other-base")
    foreign = make_adapter(other, tmp_path / "foreign")
    with pytest.raises(UsageError, match="different bases"):
        evaluate([setup["changed"], foreign], setup["data"], record=False, **FAST)


def test_results_recorded_in_manifest_and_registry_then_compared(
    setup, tiny_base, tmp_path
):
    from lorakit.adapters.registry import Registry
    from lorakit.core.manifest import read_manifest
    from lorakit.eval.record import compare

    first = make_adapter(tiny_base, tmp_path / "v1", scale=0.3, seed=2)
    second = make_adapter(tiny_base, tmp_path / "v2", scale=0.0)
    Registry().register(first, name="support-v1")
    evaluate(["support-v1", second], setup["data"], **FAST)
    assert len(read_manifest(first).eval) == 1 and len(read_manifest(second).eval) == 1
    assert Registry().get("support-v1").eval[-1]["adapter"]["loss"] is not None
    out = compare(["support-v1", second])
    by_name = {r["adapter"]: r for r in out["adapters"]}
    assert set(by_name) == {"support-v1", "v2"} and out["same_data"]
    assert (
        "unchanged" in by_name["v2"]["flags"]
        and "unchanged" not in by_name["support-v1"]["flags"]
    )


def test_also_base_without_chat_template_borrows_the_template_with_a_note(
    setup, tiny_base, tmp_path
):
    other = make_other_base(tiny_base, tmp_path / "plain-base", chat_template=False)
    result = evaluate(
        [setup["changed"]], setup["data"], also_base=[other], record=False, **FAST
    )
    assert any("no chat template" in note for note in result["notes"])
    ((name, summary),) = result["also_base"].items()
    assert summary["template_borrowed"] and summary["loss"] is not None
    assert len(result["examples"][0]["also_base"]) == 1


def test_forgetting_flag_threshold():
    from lorakit.eval.results import flags
    from lorakit.eval.targets import Target

    base = {"loss": 2.0, "score": 0.5}
    adapter = {
        "loss": 1.5,
        "score": 0.7,
        "same_as_base": 0.1,
        "forgetting": 0.25,
        "metric": "rouge_l",
    }

    target = Target("a", folder=None, manifest=None)
    found = flags(base, {"a": adapter}, {}, [target], {"forgetting_threshold": 0.10})
    assert [f["check"] for f in found] == ["forgetting"]
    adapter["forgetting"] = 0.05
    assert flags(base, {"a": adapter}, {}, [target], {"forgetting_threshold": 0.10}) == []


def test_cli_json_and_text(setup, tmp_path):
    from click.testing import CliRunner

    from lorakit.eval.cli import eval_cmd

    report = tmp_path / "r.html"
    args = [
        "--adapter",
        str(setup["zero"]),
        "--data",
        str(setup["data"]),
        "--max-new-tokens",
        "4",
        "--no-record",
        "--dtype",
        "float32",
        "--report",
        str(report),
        "--no-forgetting",
    ]
    out = CliRunner().invoke(eval_cmd, args + ["--format", "json"], catch_exceptions=False)
    result = json.loads(out.stdout)
    assert result["adapter"]["name"] == "zero" and report.exists()
    text = CliRunner().invoke(eval_cmd, args, catch_exceptions=False).stdout
    assert "unchanged" in text and "report:" in text


def test_missing_assistant_turn_names_the_line(setup, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    with pytest.raises(LorakitError, match="bad.jsonl:1"):
        evaluate([setup["zero"]], bad, record=False, **FAST)


@pytest.mark.e2e
def test_default_base_zero_adapter_flagged_on_support_rows(default_base, tmp_path):
    from pathlib import Path

    from test_eval_helpers import make_adapter

    rows = Path(__file__).parents[1] / "examples" / "support" / "heldout.jsonl"
    if not rows.exists():
        pytest.skip("examples/support/heldout.jsonl is not in this checkout")
    zero = make_adapter(default_base.path, tmp_path / "untrained")
    result = evaluate(
        [zero], rows, limit=4, max_new_tokens=16, progress=False, record=False
    )
    assert result["metric"] == "rouge_l"  # support answers are sentences
    assert result["adapter"]["same_as_base"] == 1.0
    assert [f["check"] for f in result["flags"]][:1] == ["unchanged"]
    assert 0 < result["base"]["loss"] < 10 and result["base"]["general_loss"] < 10


def test_borrowed_template_output_is_cut_at_marker_near_misses(tiny_tokenizer):
    from lorakit.eval.infer import Generation
    from lorakit.eval.run import _cut_at_turn_end

    text = "It has a motor.\n<|im_end>\n<|im_start|>user\nAnd gears?"
    cut = _cut_at_turn_end(Generation(text, 20, True), tiny_tokenizer)
    assert cut.text == "It has a motor." and not cut.hit_max


def test_sampling_is_seeded(setup):
    def outputs(seed: int) -> list[str]:
        result = evaluate(
            [setup["changed"]],
            setup["data"],
            record=False,
            temperature=1.0,
            seed=seed,
            **FAST,
        )
        return [row["adapter"] for row in result["examples"]]

    assert outputs(3) == outputs(3)
    assert outputs(3) != outputs(4)
