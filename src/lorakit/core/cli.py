"""`lorakit models`."""

from __future__ import annotations

import click

from lorakit.core.models import list_models
from lorakit.core.output import emit_json, table


@click.command("models")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def models(fmt: str) -> None:
    """List the base models available on this machine (no network).

    \b
    Example:  lorakit models --format json
    """
    rows = list_models()
    if fmt == "json":
        emit_json({"models": rows})
        return
    click.echo(table([[r["name"], r["kind"], "yes" if r["installed"] else "no",
                       "yes" if r["converted"] else "no", r["description"]] for r in rows],
                     ["name", "kind", "installed", "converted", "description"]))
    for r in rows:
        if r["install"]:
            click.echo(f"to install {r['name']}: {r['install']}")
