"""`lorakit adapters list|show|add|rm|compare`, `lorakit merge`, `lorakit export vllm`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from lorakit.adapters.registry import AdapterRecord, Registry
from lorakit.core.errors import LorakitError
from lorakit.core.output import emit_json, table

FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")


def _latest_eval(record: AdapterRecord) -> str:
    if not record.eval:
        return ""
    last = record.eval[-1]
    keys = [k for k in ("metric", "adapter", "base") if k in last]
    return " ".join(f"{k}={last[k]}" for k in keys) or "yes"


@click.group("adapters")
def adapters() -> None:
    """The adapter registry (SQLite in the lorakit home).

    \b
    Example:  lorakit adapters list
              lorakit adapters add ./my-peft-adapter --base default --name support
    """


@adapters.command("list")
@FORMAT
def list_cmd(fmt: str) -> None:
    """Every registered adapter.

    \b
    Example:  lorakit adapters list --format json
    """
    records = Registry().list()
    if fmt == "json":
        emit_json({"adapters": [r.to_dict() for r in records]})
        return
    if not records:
        click.echo("no adapters registered (`lorakit train` or `lorakit adapters add DIR`)")
        return
    click.echo(table([[r.name, r.base_name, r.rank, r.source, r.created, _latest_eval(r),
                       r.path] for r in records],
                     ["name", "base", "rank", "source", "created", "last eval", "path"]))


@adapters.command("show")
@click.argument("name")
@FORMAT
def show(name: str, fmt: str) -> None:
    """Everything recorded about one adapter.

    \b
    Example:  lorakit adapters show support
    """
    record = Registry().get(name)
    if fmt == "json":
        emit_json(record.to_dict())
        return
    for key, value in record.to_dict().items():
        if isinstance(value, (dict, list)) and value:
            import json

            value = json.dumps(value, indent=2, default=str).replace("\n", "\n  ")
        click.echo(f"{key}: {value}")


@adapters.command("add")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--name", default=None, help="Registry name (default: the folder's name).")
@click.option("--base", default=None,
              help="Base it was trained on (default: adapter_config.json's base).")
@FORMAT
def add(folder: Path, name: str | None, base: str | None, fmt: str) -> None:
    """Register an adapter folder (lorakit-made or any PEFT adapter).

    \b
    Example:  lorakit adapters add ./peft-out --base HuggingFaceTB/SmolLM2-135M-Instruct
    """
    record = Registry().register(folder, name=name, base=base)
    if fmt == "json":
        emit_json(record.to_dict())
    else:
        click.echo(f"registered {record.name} (rank {record.rank}, base {record.base_name}) "
                   f"-> {record.path}")


@adapters.command("rm")
@click.argument("name")
@FORMAT
def rm(name: str, fmt: str) -> None:
    """Forget an adapter (its folder on disk is kept).

    \b
    Example:  lorakit adapters rm old-try
    """
    record = Registry().remove(name)
    if fmt == "json":
        emit_json({"removed": record.name, "path": record.path})
    else:
        click.echo(f"removed {record.name} from the registry (folder kept: {record.path})")


@adapters.command("compare")
@click.argument("names", nargs=-1, required=True)
@click.option("--prompt", "prompts", multiple=True,
              help="Also answer this prompt with each adapter and the base (greedy).")
@click.option("--max-tokens", default=64, show_default=True)
@FORMAT
def compare(names: tuple[str, ...], prompts: tuple[str, ...], max_tokens: int,
            fmt: str) -> None:
    """Adapters side by side: base, rank, data, metrics, eval; optionally answers.

    \b
    Example:  lorakit adapters compare support support-v2 --prompt "Reset my password"
    """
    from lorakit.adapters.compare import compare_adapters

    result = compare_adapters(list(names), list(prompts), max_tokens=max_tokens)
    if fmt == "json":
        emit_json(result)
        return
    rows = result["adapters"]
    fields = ["base_name", "rank", "alpha", "target_modules", "data_fingerprint", "created"]
    click.echo(table([[f] + [_short(r.get(f)) for r in rows] for f in fields]
                     + [["metrics"] + [_short(r.get("metrics")) for r in rows],
                        ["last eval"] + [_short((r.get("eval") or [{}])[-1]) for r in rows]],
                     ["field"] + [r["name"] for r in rows]))
    for answer in result["answers"]:
        click.echo(f"\nprompt: {answer['prompt']}")
        for who, text in answer["outputs"].items():
            click.echo(f"  [{who}] {text}")


def _short(value: Any, limit: int = 40) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@click.command("merge")
@click.option("--adapter", required=True, help="Registered name or adapter folder.")
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option("--base", default=None, help="Base (default: the adapter's own).")
@click.option("--tolerance", default=1e-3, show_default=True,
              help="Largest logit difference accepted between merged and adapter.")
@FORMAT
def merge(adapter: str, out: Path, base: str | None, tolerance: float, fmt: str) -> None:
    """Merge an adapter into its base as a plain HF model folder, checked.

    \b
    Example:  lorakit merge --adapter support --out merged/support
    """
    from lorakit.adapters.merge import merge_adapter

    report = merge_adapter(adapter, out, base=base, tolerance=tolerance)
    if fmt == "json":
        emit_json(report)
    else:
        click.echo(f"merged {adapter} into {report['base']} -> {report['out']}\n"
                   f"check on {report['prompts']} prompts: max logit difference "
                   f"{report['max_logit_diff']:.2e}, greedy outputs equal "
                   f"{report['greedy_match']}")


@click.group("export")
def export() -> None:
    """Export adapters for other engines.

    \b
    Example:  lorakit export vllm --adapter support --adapter sql --out deploy/
    """


@export.command("vllm")
@click.option("--adapter", "adapters", multiple=True, metavar="NAME[=DIR]",
              help="Adapters to serve (default: every registered one).")
@click.option("--base", default=None)
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Write serve_vllm.sh and lora_modules.json here.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--api-key/--no-api-key", default=False,
              help="Make the command read the key from $LORAKIT_API_KEY.")
@FORMAT
def export_vllm_cmd(adapters: tuple[str, ...], base: str | None, out: Path | None, host: str,
                    port: int, api_key: bool, fmt: str) -> None:
    """Write and print the `vllm serve` command for the same adapters (vLLM not run here).

    \b
    Example:  lorakit export vllm --adapter support --out deploy/
    """
    from lorakit.adapters.export import export_vllm, print_export

    names, folders = [], {}
    for value in adapters:
        name, _, folder = value.partition("=")
        names.append(name)
        if folder:
            folders[name] = Path(folder)
    if not names and not Registry().list():
        raise LorakitError("no adapters registered", fix="pass --adapter NAME=DIR")
    print_export(export_vllm(names, folders=folders, base=base, out=out, host=host,
                             port=port, api_key="env" if api_key else None), fmt)
