"""`lorakit data ...` and `lorakit init`: flags to function calls, nothing else."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lorakit.core.errors import LorakitError, UsageError
from lorakit.core.output import emit_json

FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                      help="text for a person, json for a script.")
BASE = click.option("--base", default="default", show_default=True,
                    help="Base whose tokenizer and chat template count tokens (id or folder).")
MAX_TOKENS = click.option("--max-tokens", type=click.IntRange(min=9), default=2048,
                          show_default=True, help="Length limit of one rendered row, in tokens.")


def _tokenizer(base: str):
    from lorakit.core.models import load_tokenizer, resolve_base

    resolved = resolve_base(base)
    return load_tokenizer(resolved), resolved


def _out(fmt: str, obj: dict, text: str) -> None:
    if fmt == "json":
        emit_json(obj)
    else:
        click.echo(text)


@click.group("data")
def data() -> None:
    """Import, check, clean, split and describe datasets.

    \b
    lorakit data import raw.csv --map article=user --map summary=assistant --out rows.jsonl
    lorakit data check rows.jsonl --eval heldout.jsonl
    lorakit data clean rows.jsonl --out clean.jsonl --rejects rejects.jsonl
    """


@data.command("import")
@click.argument("src", type=click.Path(dir_okay=False))
@click.option("--from", "fmt_in", metavar="FORMAT", default=None,
              help="alpaca, sharegpt, openai, prompt_completion, columns, csv or jsonl "
                   "(csv/jsonl: columns, read as that; need --map). "
                   "Default: detected from the first record.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output JSONL.")
@click.option("--map", "maps", multiple=True, metavar="COLUMN=ROLE",
              help="Column to role (user, assistant, system or meta); repeatable.")
@click.option("--system", default=None, help="A system message to put first in every row.")
@click.option("--rejects", type=click.Path(dir_okay=False), default=None,
              help="Write records that could not be imported here, with the reason.")
@click.option("--strict", is_flag=True, help="Exit 1 when any record could not be imported.")
@FORMAT
def import_cmd(src, fmt_in, out, maps, system, rejects, strict, fmt) -> None:
    """Convert SRC (JSONL, JSON array or CSV) to canonical chat JSONL.

    \b
    lorakit data import alpaca.json --from alpaca --out rows.jsonl
    lorakit data import chats.jsonl --from sharegpt --out rows.jsonl
    lorakit data import export.jsonl --from openai --out rows.jsonl
    lorakit data import pairs.jsonl --from prompt_completion --out rows.jsonl
    lorakit data import news.csv --from csv --map article=user --map summary=assistant \\
        --system "Summarize the article." --out rows.jsonl
    lorakit data import news.jsonl --from jsonl --map article=user \\
        --map summary=assistant --out rows.jsonl
    lorakit data import table.tsv --from columns --map q=user --map a=assistant --out rows.jsonl
    """
    from lorakit.data.importer import import_path, parse_mapping

    report = import_path(src, out, fmt_in, parse_mapping(maps) or None, system, rejects)
    from lorakit.data.report import import_text

    _out(fmt, report.to_dict(), import_text(report.to_dict()))
    if report.imported == 0 and report.rows_in:
        raise LorakitError("no record could be imported", path=src,
                           fix="check --from and --map against the file's fields")
    if strict and report.failed:
        sys.exit(1)


@data.command("check")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--eval", "eval_path", type=click.Path(dir_okay=False), default=None,
              help="Held-out JSONL: checked too, and for overlap with PATH.")
@BASE
@MAX_TOKENS
@click.option("--limit", type=int, default=20, show_default=True,
              help="Findings shown per check in text output (0: all).")
@FORMAT
def check_cmd(path, eval_path, base, max_tokens, limit, fmt) -> None:
    """Report every problem in PATH, each with its line. Exit 0 clean, 1 errors, 2 usage.

    \b
    lorakit data check rows.jsonl
    lorakit data check rows.jsonl --eval heldout.jsonl --format json
    """
    from lorakit.data.check import check_path
    from lorakit.data.report import check_text

    tokenizer, _ = _tokenizer(base)
    report = check_path(path, eval_path, tokenizer, max_tokens)
    _out(fmt, report.to_dict(), check_text(report, limit))
    sys.exit(report.exit_code)


@data.command("clean")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Kept rows.")
@click.option("--rejects", required=True, type=click.Path(dir_okay=False),
              help="Rejected rows, each with its source line and reasons.")
@click.option("--eval", "eval_path", type=click.Path(dir_okay=False), default=None,
              help="Held-out JSONL: train rows that overlap it are rejected.")
@BASE
@MAX_TOKENS
@FORMAT
def clean_cmd(path, out, rejects, eval_path, base, max_tokens, fmt) -> None:
    """Repair what can be repaired, keep the first of duplicates, reject the rest.

    \b
    lorakit data clean raw.jsonl --out clean.jsonl --rejects rejects.jsonl
    lorakit data clean raw.jsonl --eval heldout.jsonl --out clean.jsonl --rejects rej.jsonl
    """
    from lorakit.data.clean import clean_path
    from lorakit.data.report import clean_text

    if Path(out).resolve() in (Path(path).resolve(), Path(rejects).resolve()):
        raise UsageError("--out must differ from PATH and --rejects")
    tokenizer, _ = _tokenizer(base)
    report = clean_path(path, out, rejects, eval_path, tokenizer, max_tokens)
    _out(fmt, report.to_dict(), clean_text(report.to_dict()))


@data.command("split")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--train-out", required=True, type=click.Path(dir_okay=False))
@click.option("--eval-out", required=True, type=click.Path(dir_okay=False))
@click.option("--eval-fraction", type=float, default=0.1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@FORMAT
def split_cmd(path, train_out, eval_out, eval_fraction, seed, fmt) -> None:
    """Split PATH into train and eval, seeded, near-duplicates on the same side.

    \b
    lorakit data split clean.jsonl --train-out train.jsonl --eval-out heldout.jsonl
    """
    from lorakit.data.report import split_text
    from lorakit.data.split import split_path

    report = split_path(path, train_out, eval_out, eval_fraction, seed)
    _out(fmt, report.to_dict(), split_text(report.to_dict()))


@data.command("stats")
@click.argument("path", type=click.Path(dir_okay=False))
@BASE
@MAX_TOKENS
@FORMAT
def stats_cmd(path, base, max_tokens, fmt) -> None:
    """Rows, token counts, length distribution against the base's context, role balance.

    \b
    lorakit data stats clean.jsonl
    lorakit data stats clean.jsonl --base ./my-base --format json
    """
    from lorakit.data.report import stats_text
    from lorakit.data.stats import base_context, stats_path

    tokenizer, resolved = _tokenizer(base)
    report = stats_path(path, tokenizer, max_tokens, base_context(resolved.path))
    _out(fmt, report.to_dict(), stats_text(report.to_dict()))


TEMPLATES = ("support-bot", "summarizer", "classifier")


@click.command("init")
@click.argument("template", type=click.Choice(TEMPLATES))
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Write into a folder that is not empty.")
@FORMAT
def init(template, directory, force, fmt) -> None:
    """Start a new project from a template: config, example rows, next commands.

    \b
    lorakit init support-bot my-bot && cd my-bot
    """
    from lorakit.data.templates import create_project

    files = create_project(template, directory, force)
    readme = Path(directory) / "README.md"
    nxt = readme.read_text().split("Next commands, from this folder:")[-1].strip("\n")
    text = (f"created {directory} from the {template} template: " + ", ".join(files)
            + f"\n\nnext, in {directory}:\n{nxt}")
    _out(fmt, {"template": template, "directory": str(directory), "files": files}, text)
