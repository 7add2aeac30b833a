"""The lm-evaluation-harness export: file shape, and lm_eval itself run offline."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lorakit.eval.lm_eval_export import export_lm_eval
from test_eval_helpers import make_adapter, write_rows


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))


def test_export_writes_task_data_and_scorer(tiny_base, tiny_tokenizer, tmp_path):
    data = write_rows(tmp_path / "heldout.jsonl", system="Be brief.")
    info = export_lm_eval(data, tmp_path / "task", tiny_tokenizer, max_new_tokens=7)
    task = yaml.load((tmp_path / "task" / "lorakit_heldout.yaml").read_text(), _Loader)
    assert (
        task["output_type"] == "generate_until"
        and task["process_results"] == "utils.process_results"
    )
    assert task["generation_kwargs"]["max_gen_toks"] == 7
    assert "<|im_end|>" in task["generation_kwargs"]["until"]
    rows = [
        json.loads(x)
        for x in Path(task["dataset_kwargs"]["data_files"]["test"]).read_text().splitlines()
    ]
    assert len(rows) == info["rows"] == 6
    assert (
        rows[0]["prompt"].endswith("<|im_start|>assistant\n")
        and "Be brief." in rows[0]["prompt"]
    )
    sys.path.insert(0, str(tmp_path / "task"))
    try:
        import utils  # the exported scorer

        assert utils.process_results({"reference": "Paris"}, [" paris. "]) == {
            "exact_match": 1.0,
            "rouge_l": 1.0,
        }
    finally:
        sys.path.remove(str(tmp_path / "task"))
        sys.modules.pop("utils", None)


@pytest.mark.e2e
def test_lm_eval_offline_reproduces_lorakit_generations(
    tiny_base, tiny_tokenizer, tmp_path
):
    """lm_eval (hf + peft) on the exported task generates exactly what lorakit does."""
    lm_eval = shutil.which("lm_eval") or str(Path(sys.executable).with_name("lm_eval"))
    if not Path(lm_eval).exists():
        pytest.skip("lm-eval is not installed (pip install lm-eval)")
    from lorakit.eval.run import evaluate

    adapter = make_adapter(tiny_base, tmp_path / "adapter", scale=0.5)
    data = write_rows(tmp_path / "heldout.jsonl")
    export_lm_eval(data, tmp_path / "task", tiny_tokenizer, max_new_tokens=6)
    env = dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HOME=str(tmp_path / "hf"),
    )
    subprocess.run(
        [
            lm_eval,
            "--model",
            "hf",
            "--model_args",
            f"pretrained={tiny_base},peft={adapter},dtype=float32",
            "--tasks",
            "lorakit_heldout",
            "--include_path",
            str(tmp_path / "task"),
            "--device",
            "cpu",
            "--output_path",
            str(tmp_path / "out"),
            "--log_samples",
        ],
        check=True,
        env=env,
        capture_output=True,
        timeout=300,
    )
    samples = glob.glob(str(tmp_path / "out" / "*" / "samples_lorakit_heldout_*.jsonl"))
    theirs = {
        json.loads(x)["doc"]["line"]: json.loads(x)["filtered_resps"][0].strip()
        for x in Path(samples[0]).read_text().splitlines()
    }
    ours = evaluate(
        [adapter], data, max_new_tokens=6, progress=False, record=False, dtype="float32"
    )
    assert theirs == {row["line"]: row["adapter"] for row in ours["examples"]}
