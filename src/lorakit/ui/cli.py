"""`lorakit ui`: start the local web page."""

from __future__ import annotations

import json
from pathlib import Path

import click



@click.command("ui")
@click.option("--data", "data", type=click.Path(path_type=Path), default=None,
              help="A JSONL dataset to review (never modified; edits go to a new version).")
@click.option("--port", type=int, default=7860, show_default=True,
              help="Port on 127.0.0.1 (0: any free port).")
@click.option("--base", default=None,
              help="Base for Compare, and tokenizer for the too_long check "
                   "(default: each adapter's own base).")
@click.option("--runs", "runs", multiple=True, type=click.Path(path_type=Path),
              help="A folder of adapter folders to show under Runs (repeatable); "
                   "registered adapters and $LORAKIT_HOME/runs are always shown.")
@click.option("--new-version", is_flag=True,
              help="Start a fresh version instead of resuming the last review of --data.")
@click.option("--max-tokens", type=int, default=2048, show_default=True,
              help="Length limit for the too_long check (needs --base).")
@click.option("--device", default="auto", show_default=True,
              help="Where Compare runs the models: auto, cpu, cuda, mps.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              help="json: print the start URL and file paths as one JSON line.")
def ui(data: Path | None, port: int, base: str | None, runs: tuple[Path, ...],
       new_version: bool, max_tokens: int, device: str, fmt: str) -> None:
    """Serve a local page to review a dataset, see runs and compare adapters.

    The page is at http://127.0.0.1:PORT/ and needs the token in the URL this
    command prints (as Jupyter does). Stop it with Ctrl-C.

    \b
    Example:  lorakit ui --data examples/support/raw_messy.jsonl
              lorakit ui --runs runs/ --port 0
    """
    from lorakit.ui.app import build_state
    from lorakit.ui.server import bind, create_app, serve_forever, start_url

    state = build_state(data=data, base=base, run_roots=list(runs),
                        new_version=new_version, max_tokens=max_tokens, device=device)
    sock = bind(port)
    url = start_url(sock, state.token)
    _announce(url, state, fmt)
    try:
        serve_forever(create_app(state), sock)
    finally:
        sock.close()


def _announce(url: str, state, fmt: str) -> None:
    review = state.review.info() if state.review else None
    if fmt == "json":
        click.echo(json.dumps({"url": url, "review": review}), err=False)
        return
    click.echo("lorakit ui is running. Open this URL in a browser (the token is required):")
    click.echo(f"\n    {url}\n")
    if review:
        click.echo(f"reviewing {review['source']} ({review['rows']} rows)"
                   + (" - resuming the last review" if review["resumed"] else ""))
        click.echo(f"  new version: {review['version']}\n  edit log:    {review['log']}"
                   f"\n  rejects:     {review['rejects']}")
    if not state.checks_available:
        click.echo("note: `lorakit data check` is not available; rows are shown without "
                   "findings")
    click.echo("Ctrl-C stops it.")


