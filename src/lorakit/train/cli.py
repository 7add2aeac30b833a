"""`lorakit train`: flags -> Config -> preflight -> train -> registry."""

from __future__ import annotations

import os
import sys

import click

from lorakit.core.output import emit_json

FLAGS = {  # CLI option -> dotted config key
    "data": "data.train", "eval_data": "data.eval", "max_tokens": "data.max_tokens",
    "base": "train.base", "out": "train.out", "name": "train.name", "epochs": "train.epochs",
    "max_steps": "train.max_steps", "lr": "train.lr", "batch_size": "train.batch_size",
    "tokens_per_step": "train.tokens_per_step", "rank": "lora.rank", "alpha": "lora.alpha",
    "dropout": "lora.dropout", "seed": "train.seed", "save_every": "train.save_every",
    "eval_every": "train.eval_every", "dtype": "train.dtype", "device": "train.device",
}
SWITCHES = {"resume": "train.resume", "overwrite": "train.overwrite",
            "tensorboard": "train.tensorboard", "compile": "train.compile"}


@click.command("train")
@click.argument("config", required=False, type=click.Path(dir_okay=False))
@click.option("--data", help="Training JSONL (canonical chat rows).")
@click.option("--eval-data", help="Held-out JSONL for eval loss.")
@click.option("--base", help="Base: 'default', a hub id or a local folder.")
@click.option("--out", help="Adapter folder (default: $LORAKIT_HOME/runs/<data name>).")
@click.option("--name", help="Registry name (default: the out folder's name).")
@click.option("--epochs", type=int)
@click.option("--max-steps", type=int, help="Stop after this many optimizer steps.")
@click.option("--lr", type=float, help="Peak learning rate.")
@click.option("--batch-size", type=int, help="Most rows per optimizer step.")
@click.option("--tokens-per-step", type=int, help="Most real tokens per optimizer step.")
@click.option("--max-tokens", type=int, help="Length limit of one rendered row.")
@click.option("--rank", type=int, help="LoRA rank.")
@click.option("--alpha", type=int, help="LoRA alpha.")
@click.option("--dropout", type=float, help="LoRA dropout.")
@click.option("--seed", type=int)
@click.option("--save-every", type=int, help="Checkpoint every N steps (OUT/checkpoint-N/).")
@click.option("--eval-every", type=int, help="Eval loss every N steps (default: 4 per run).")
@click.option("--dtype", type=click.Choice(["auto", "bfloat16", "float16", "float32"]))
@click.option("--device", help="auto, cpu, cuda[:N] or mps.")
@click.option("--resume", is_flag=True, default=None, help="Continue from the last checkpoint.")
@click.option("--overwrite", is_flag=True, default=None, help="Replace an adapter in --out.")
@click.option("--tensorboard", is_flag=True, default=None, help="Also log to OUT/tensorboard.")
@click.option("--compile", is_flag=True, default=None, help="torch.compile the base.")
@click.option("--dry-run", is_flag=True, help="Preflight only: report, train nothing.")
@click.option("--show-mask", type=int, default=0, metavar="N",
              help="Print N rendered rows with the trained tokens marked.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def train(config: str | None, dry_run: bool, show_mask: int, fmt: str, **flags) -> None:
    """Train a LoRA adapter on chat JSONL, after a preflight of the data.

    Flags override the YAML CONFIG, which overrides the defaults. Under
    torchrun / accelerate launch the same command trains data-parallel.

    \b
    Examples:
      lorakit train --data train.jsonl --eval-data eval.jsonl --out my-adapter
      lorakit train --data train.jsonl --dry-run --show-mask 2
      lorakit train cfg.yaml --max-steps 50 --save-every 10 --resume
    """
    from lorakit.core.config import load_config
    from lorakit.train.preflight import preflight

    overrides = {FLAGS[k]: v for k, v in flags.items() if k in FLAGS and v is not None}
    overrides.update({SWITCHES[k]: True for k, v in flags.items() if k in SWITCHES and v})
    cfg = load_config(config, overrides)
    main = int(os.environ.get("RANK", "0")) == 0
    if main and fmt == "text":
        _print_config(cfg)

    report = preflight(cfg)
    if main and fmt == "text":
        click.echo(report.text(), err=not dry_run)
        if show_mask:
            _show_mask(report, show_mask)
    if dry_run:
        if fmt == "json":
            emit_json(report.to_dict())
        sys.exit(0 if report.ok else 1)

    from lorakit.train.run import train as run_train

    result = run_train(cfg, report)
    if result.interrupted:
        sys.exit(130)
    if main:
        _register(result.out_dir, cfg.train.name)
        if fmt == "json":
            emit_json(result.to_dict())
        else:
            click.echo(str(result.out_dir))


def _print_config(cfg) -> None:
    import yaml

    text = yaml.safe_dump(cfg.to_dict(), sort_keys=False).rstrip()
    click.echo("config:\n" + "\n".join("  " + line for line in text.splitlines()), err=True)


def _show_mask(report, n: int) -> None:
    from lorakit.core.template import show_mask

    plain = not sys.stdout.isatty()
    click.echo(f"trained tokens are marked {'[[like this]]' if plain else 'in green'}:")
    for i, rendered in enumerate(report.rendered[:n]):
        click.echo(f"--- row {i + 1} ({rendered.n_trained}/{rendered.n_tokens} tokens trained)")
        click.echo(show_mask(report.tokenizer, rendered, plain=plain))


def _register(out_dir, name: str | None) -> None:
    """Add the adapter to the registry (when the registry stage is present)."""
    try:
        from lorakit.adapters.registry import Registry
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("lorakit"):
            click.echo("note: adapter registry not available; adapter not registered", err=True)
            return
        raise
    Registry().register(out_dir, name=name)
