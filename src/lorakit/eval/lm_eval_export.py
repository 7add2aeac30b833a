"""Export the held-out set as a local lm-evaluation-harness task.

The task folder holds the rows with their prompts already rendered through
the adapter's chat template (so lm-eval sees exactly the text lorakit
generates from, without ``--apply_chat_template``), a YAML task file, and a
``utils.py`` that scores with lorakit's own exact-match and ROUGE-L, so the
numbers agree with ``lorakit eval`` under greedy decoding. Run it with::

    lm_eval --model hf --model_args pretrained=BASE,peft=ADAPTER \\
        --tasks lorakit_heldout --include_path DIR

Not exported: the held-out loss (lm-eval reports log-likelihoods per
document, not lorakit's mean per-token NLL over assistant turns).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from lorakit.core.io import atomic_write_text
from lorakit.core.template import end_of_turn_ids, render_text
from lorakit.eval.cases import load_cases

UTILS = '''"""Scoring for the lorakit export: lorakit's own metrics, same numbers."""

from lorakit.eval.metrics import exact_match, rouge_l


def process_results(doc, results):
    prediction = results[0].strip()
    return {"exact_match": exact_match(prediction, doc["reference"]),
            "rouge_l": rouge_l(prediction, doc["reference"])}
'''


def _yaml_str(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid YAML double-quoted scalar


def task_yaml(task: str, data_file: Path, stops: list[str], max_new_tokens: int) -> str:
    until = ", ".join(_yaml_str(s) for s in stops)
    return f"""# written by `lorakit eval --export-lm-eval`; prompts are pre-rendered
task: {task}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {_yaml_str(str(data_file))}
test_split: test
output_type: generate_until
doc_to_text: "{{{{prompt}}}}"
doc_to_target: "{{{{reference}}}}"
generation_kwargs:
  until: [{until}]
  max_gen_toks: {max_new_tokens}
  do_sample: false
process_results: !function utils.process_results
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
  - metric: rouge_l
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""


def export_lm_eval(
    data: str | Path,
    out_dir: str | Path,
    tokenizer,
    *,
    task: str = "lorakit_heldout",
    max_new_tokens: int = 128,
    limit: int | None = None,
) -> dict[str, Any]:
    """Write the task folder; return its files and the command that runs it."""
    if not re.fullmatch(r"[A-Za-z0-9_]+", task):
        from lorakit.core.errors import UsageError

        raise UsageError(f"task name {task!r} must be letters, digits and '_'")
    out = Path(out_dir).resolve()
    cases = load_cases(data, limit)

    # the exact prompt text lorakit generates from (chat template + assistant header)
    prompts = [render_text(tokenizer, c.prompt, add_generation_prompt=True) for c in cases]
    rows = [
        json.dumps(
            {"line": c.line, "prompt": p, "reference": c.reference}, ensure_ascii=False
        )
        for c, p in zip(cases, prompts)
    ]
    data_file = out / f"{task}.jsonl"
    atomic_write_text(data_file, "\n".join(rows) + "\n")
    stops = sorted({tokenizer.convert_ids_to_tokens(i) for i in end_of_turn_ids(tokenizer)})
    atomic_write_text(
        out / f"{task}.yaml", task_yaml(task, data_file, stops, max_new_tokens)
    )
    atomic_write_text(out / "utils.py", UTILS)
    command = (
        f"lm_eval --model hf --model_args pretrained=BASE,peft=ADAPTER "
        f"--tasks {task} --include_path {out}"
    )
    return {
        "task": task,
        "folder": str(out),
        "rows": len(rows),
        "files": sorted(str(p) for p in out.iterdir()),
        "command": command,
    }
