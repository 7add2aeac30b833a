"""`lorakit eval`: flags to ``evaluate``, ``compare`` and ``export_lm_eval``."""

from __future__ import annotations

from typing import Any

import click

from lorakit.core.errors import UsageError
from lorakit.core.output import emit_json, table


def _text_summary(result: dict[str, Any]) -> str:
    from lorakit.eval.report import models_of

    metric = result["metric"]
    rows = [
        [
            name,
            s.get("loss"),
            s.get("score"),
            s.get("same_as_base"),
            s.get("general_loss"),
            s.get("forgetting"),
        ]
        for name, s in models_of(result).items()
    ]
    lines = [
        table(rows, ["model", "loss", metric, "same_as_base", "general_loss", "forgetting"])
    ]
    for f in result["flags"]:
        lines.append(f"{f['severity']}: {f['model']}: {f['check']}: {f['message']}")
    for note in result.get("notes", []):
        lines.append(f"note: {note}")
    data = result["data"]
    lines.append(
        f"{data['rows']} rows of {data['path']} in {result['seconds']} s "
        f"({result['settings']['device']}, {result['settings']['dtype']})"
    )
    return "\n".join(lines)


def _side_by_side(result: dict[str, Any], n: int, width: int = 100) -> str:
    """The first ``n`` held-out examples: the question, then each model's answer."""
    import textwrap

    from lorakit.eval.report import outputs_of

    blocks = []
    for row in result["examples"][:n]:
        answers = outputs_of(row, result)
        prompt = textwrap.shorten(" ".join(row["prompt"].split()), width)
        lines = [f"--- line {row.get('line')}: {prompt}"]
        for name, text in answers.items():
            body = textwrap.shorten(" ".join(text.split()), 3 * width) or "(empty)"
            wrapped = textwrap.fill(body, width, initial_indent="    ", subsequent_indent="    ")
            lines.append(f"  [{name}]\n{wrapped}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def _compare_text(out: dict[str, Any]) -> str:
    rows = [
        [
            r["adapter"],
            r.get("evaluated") or "never",
            r.get("rows"),
            (r.get("base") or {}).get("loss"),
            r.get("loss"),
            r.get("metric"),
            (r.get("base") or {}).get("score"),
            r.get("score"),
            r.get("same_as_base"),
            r.get("forgetting"),
            ",".join(r.get("flags", [])),
        ]
        for r in out["adapters"]
    ]
    text = table(
        rows,
        [
            "adapter",
            "evaluated",
            "rows",
            "base loss",
            "loss",
            "metric",
            "base score",
            "score",
            "same_as_base",
            "forgetting",
            "flags",
        ],
    )
    if not out["same_data"]:
        text += "\nnote: these results were taken on different held-out data"
    return text


def _export(
    data: str,
    out_dir: str,
    adapters: tuple[str, ...],
    base: str | None,
    max_new_tokens: int,
    limit: int | None,
    fmt: str,
) -> None:
    from lorakit.core.models import load_tokenizer
    from lorakit.eval.lm_eval_export import export_lm_eval
    from lorakit.eval.targets import check_templates, pick_base, resolve_adapter

    targets = [resolve_adapter(a) for a in adapters]
    base_model = pick_base(targets, base)
    tokenizer = load_tokenizer(base_model)
    check_templates(targets, tokenizer)
    info = export_lm_eval(
        data, out_dir, tokenizer, max_new_tokens=max_new_tokens, limit=limit
    )
    pretrained = str(base_model.path)
    peft = f",peft={targets[0].folder}" if targets else ""
    info["command"] = info["command"].replace(
        "pretrained=BASE,peft=ADAPTER", f"pretrained={pretrained}{peft}"
    )
    if fmt == "json":
        emit_json(info)
    else:
        click.echo(
            f"wrote lm-eval task {info['task']!r} ({info['rows']} rows) to "
            f"{info['folder']}\nrun it with:\n  {info['command']}"
        )


@click.command("eval")
@click.option(
    "--adapter",
    "adapters",
    multiple=True,
    metavar="DIR|NAME",
    help="Adapter folder or registry name (repeat for several).",
)
@click.option("--data", type=click.Path(dir_okay=False), help="Held-out JSONL (chat rows).")
@click.option(
    "--base", default=None, help="Base to use (default: the one in the manifest)."
)
@click.option(
    "--also-base",
    "also_base",
    multiple=True,
    metavar="ID|PATH",
    help="Another base to run on the same rows, e.g. gemma3-270m.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="YAML config; its eval section sets the defaults below.",
)
@click.option(
    "--metric",
    type=click.Choice(["auto", "exact_match", "rouge_l", "none"]),
    default=None,
    help="Task metric (auto: exact match for short answers).",
)
@click.option("--max-new-tokens", type=int, default=None, help="Generation limit per row.")
@click.option("--temperature", type=float, default=None, help="0 = greedy (the default).")
@click.option("--seed", type=int, default=None, help="Sampling seed.")
@click.option("--limit", type=int, default=None, help="Evaluate only the first N rows.")
@click.option(
    "--batch-size", type=int, default=64, show_default=True, help="Rows per batch."
)
@click.option(
    "--device", default="auto", show_default=True, help="auto, cpu, cuda[:N], mps."
)
@click.option(
    "--dtype",
    type=click.Choice(["auto", "bfloat16", "float16", "float32"]),
    default="auto",
    show_default=True,
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write a self-contained HTML report here.",
)
@click.option(
    "--no-forgetting", is_flag=True, help="Skip the general-text forgetting check."
)
@click.option(
    "--no-record", is_flag=True, help="Do not append results to the manifest/registry."
)
@click.option(
    "--compare",
    is_flag=True,
    help="Compare recorded results of the adapters (all registered when none given).",
)
@click.option(
    "--export-lm-eval",
    "export_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Write an lm-evaluation-harness task for --data into this folder and stop.",
)
@click.option("--show", "show", type=int, default=3, show_default=True,
              help="Print this many held-out examples side by side (text format).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def eval_cmd(
    adapters: tuple[str, ...],
    data: str | None,
    base: str | None,
    also_base: tuple[str, ...],
    config_path: str | None,
    metric: str | None,
    max_new_tokens: int | None,
    temperature: float | None,
    seed: int | None,
    limit: int | None,
    batch_size: int,
    device: str,
    dtype: str,
    report: str | None,
    no_forgetting: bool,
    no_record: bool,
    compare: bool,
    export_dir: str | None,
    show: int,
    fmt: str,
) -> None:
    """Evaluate the base against adapters on held-out rows.

    Reports held-out loss, a task metric, how often an adapter's output is
    unchanged from the base's, and forgetting (loss on general text).

    \b
    Examples:
      lorakit eval --adapter runs/support --data heldout.jsonl --report report.html
      lorakit eval --adapter support-v1 --adapter support-v2 --data heldout.jsonl
      lorakit eval --adapter support --data heldout.jsonl --also-base gemma3-270m
      lorakit eval --compare --adapter support-v1 --adapter support-v2
      lorakit eval --adapter runs/support --data heldout.jsonl --export-lm-eval lm-task/
    """
    from lorakit.core.config import load_config

    cfg = load_config(config_path)
    if compare:
        from lorakit.eval.record import compare as compare_results

        out = compare_results(list(adapters))
        emit_json(out) if fmt == "json" else click.echo(_compare_text(out))
        return
    data = data or cfg.data.eval
    if not data:
        raise UsageError(
            "no held-out data",
            fix="pass --data HELDOUT.jsonl (or set data.eval in the config)",
        )
    if export_dir:
        _export(
            data,
            export_dir,
            adapters,
            base,
            max_new_tokens or cfg.eval.max_new_tokens,
            limit,
            fmt,
        )
        return
    if not adapters and base is None:
        raise UsageError(
            "nothing to evaluate", fix="pass --adapter DIR (or --base BASE alone)"
        )
    if limit is not None and limit <= 0:
        raise UsageError(f"--limit must be positive, got {limit}")

    from lorakit.eval.run import evaluate

    result = evaluate(
        list(adapters),
        data,
        base=base,
        also_base=list(also_base),
        config=cfg,
        metric=metric,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        seed=seed,
        limit=limit,
        batch_size=batch_size,
        device=device,
        dtype=dtype,
        forgetting=not no_forgetting,
        record=not no_record,
    )
    if report:
        from lorakit.eval.report import write_report

        result["report"] = str(write_report(result, report).resolve())
    if fmt == "json":
        emit_json(result)
        return
    if show > 0 and result.get("examples"):
        click.echo(_side_by_side(result, show) + "\n")
    click.echo(_text_summary(result))
    if report:
        click.echo(f"report: {result['report']}")
