"""The ``lorakit`` command: flags to function calls, nothing else.

Each stage owns its commands in ``lorakit/<stage>/cli.py``; they load lazily so
``lorakit --help`` stays instant (torch is not imported until needed).
"""

from __future__ import annotations

import importlib
import sys

import click

from lorakit import __version__
from lorakit.core.errors import LorakitError

# command name -> "module:attribute" of a click command
COMMANDS = {
    "init": ("lorakit.data.cli:init", "Start a new project from a template."),
    "models": ("lorakit.core.cli:models", "List the base models available here."),
    "data": ("lorakit.data.cli:data", "Import, check, clean, split and describe datasets."),
    "train": ("lorakit.train.cli:train", "Train a LoRA adapter (with a preflight first)."),
    "eval": ("lorakit.eval.cli:eval_cmd", "Evaluate base against adapters on held-out rows."),
    "adapters": ("lorakit.adapters.cli:adapters", "The adapter registry: list, show, add, rm, compare."),
    "merge": ("lorakit.adapters.cli:merge", "Merge an adapter into its base, checked."),
    "export": ("lorakit.adapters.cli:export", "Export adapters for other engines (vLLM)."),
    "serve": ("lorakit.serve.cli:serve", "Serve base + adapters over an OpenAI-compatible API."),
    "chat": ("lorakit.serve.cli:chat", "Chat with an adapter in the terminal."),
    "ui": ("lorakit.ui.cli:ui", "A local web page for review, runs and comparison."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        target, help_text = COMMANDS[name]
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("lorakit"):
                return _unavailable(name, help_text)
            raise
        return getattr(module, attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # help for the list comes from the table above, without importing anything
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_text) for name, (_, help_text) in COMMANDS.items()])


def _unavailable(name: str, help_text: str) -> click.Command:
    @click.command(name, help=help_text, context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args: tuple[str, ...]) -> None:
        raise LorakitError(f"`lorakit {name}` is not available in this build")

    return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lorakit")
def cli() -> None:
    """Turn a small open base model into an in-house specialist.

    \b
    The loop:  lorakit data check raw.jsonl
               lorakit data clean raw.jsonl --out clean.jsonl --rejects rejects.jsonl
               lorakit train --data clean.jsonl --out my-adapter
               lorakit eval --adapter my-adapter --data heldout.jsonl --report report.html
               lorakit serve --adapter my=my-adapter
    """


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="lorakit", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except LorakitError as exc:
        click.echo(f"error: {exc.render()}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    else:
        sys.exit(0)
