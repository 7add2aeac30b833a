"""Export adapters for vLLM: the command that serves the same adapters there.

vLLM reads PEFT adapter folders as they are, so nothing is converted: this
writes ``serve_vllm.sh`` (the command) and ``lora_modules.json`` (name, path,
rank of each adapter) and returns the command. ``--max-lora-rank`` is the
smallest value vLLM accepts that covers every adapter's rank; ``--max-loras``
is how many adapters may share one batch. vLLM itself is not run here.
"""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path
from typing import Any

import click

from lorakit.adapters.load import base_spec_for, verify_adapter_files
from lorakit.adapters.registry import Registry, validate_name
from lorakit.core.errors import LorakitError
from lorakit.core.io import atomic_write_json, atomic_write_text
from lorakit.core.output import emit_json

VLLM_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)  # vllm.config.lora.MaxLoRARanks (v0.14)


def vllm_rank(ranks: list[int]) -> int:
    """The smallest rank vLLM accepts that is at least every adapter's rank."""
    top = max(ranks, default=8)
    for allowed in VLLM_RANKS:
        if allowed >= top:
            return allowed
    raise LorakitError(f"an adapter has rank {top}; vLLM supports at most {VLLM_RANKS[-1]}")


def _adapters(names: list[str], folders: dict[str, Path], registry: Registry) -> dict[str, Path]:
    chosen = {n: Path(folders[n]) if n in folders else registry.resolve(n) for n in names}
    chosen.update({n: Path(p) for n, p in folders.items() if n not in chosen})
    if not chosen:
        chosen = {r.name: Path(r.path) for r in registry.list()}
    if not chosen:
        raise LorakitError("no adapters to export", fix="pass --adapter NAME, or register "
                                                        "some with `lorakit adapters add`")
    return chosen


def _warnings(name: str, config: dict[str, Any]) -> list[str]:
    """What vLLM will not take from a PEFT config (it refuses or ignores these)."""
    out = []
    if config.get("use_dora"):
        out.append(f"{name}: DoRA adapters are not supported by vLLM's LoRA serving")
    if config.get("modules_to_save"):
        out.append(f"{name}: modules_to_save {config['modules_to_save']} are not loaded by vLLM")
    if config.get("peft_type", "LORA") != "LORA":
        out.append(f"{name}: peft_type {config.get('peft_type')} is not LoRA")
    return out


def export_vllm(names: list[str], folders: dict[str, Path] | None = None,
                base: str | None = None, out: str | Path | None = None,
                host: str = "127.0.0.1", port: int = 8000, api_key: str | None = None,
                registry: Registry | None = None) -> dict[str, Any]:
    """Build (and, with ``out``, write) the ``vllm serve`` command for these adapters."""
    from lorakit.core.models import resolve_base

    registry = registry if registry is not None else Registry()
    folders = {validate_name(k): Path(v) for k, v in (folders or {}).items()}
    chosen = _adapters(names, folders, registry)

    # one base for all: vLLM serves adapters of one base per process
    bases = {base_spec_for(registry, [n] if registry.find(n) else [], {n: p})
             for n, p in chosen.items()} if base is None else {base}
    if len(bases) > 1:
        raise LorakitError(f"these adapters were made for different bases: {sorted(bases)}",
                           fix="export the adapters of one base at a time, or pass --base")
    resolved = resolve_base(bases.pop())

    modules, ranks, warnings = [], [], []
    for name, path in sorted(chosen.items()):
        config = verify_adapter_files(path)
        ranks.append(int(config.get("r", 8)))
        warnings += _warnings(name, config)
        modules.append({"name": name, "path": str(Path(path).resolve()), "rank": ranks[-1],
                        "base_model_name": resolved.name})

    argv = ["vllm", "serve", str(resolved.path), "--served-model-name", resolved.name,
            "--host", host, "--port", str(port), "--enable-lora",
            "--max-lora-rank", str(vllm_rank(ranks)), "--max-loras", str(len(modules)),
            "--lora-modules", *[f"{m['name']}={m['path']}" for m in modules]]
    shell = shlex.join(argv) + (' --api-key "$LORAKIT_API_KEY"' if api_key else "")
    result = {"command": argv, "shell": shell, "base": resolved.name,
              "base_path": str(resolved.path), "adapters": modules,
              "max_lora_rank": vllm_rank(ranks), "max_loras": len(modules),
              "warnings": warnings, "files": []}
    if out is not None:
        result["files"] = _write(Path(out), result)
    return result


def _write(out: Path, result: dict[str, Any]) -> list[str]:
    script = out / "serve_vllm.sh"
    atomic_write_text(script, "#!/bin/sh\n# written by `lorakit export vllm`; needs "
                              "`pip install vllm` and a GPU\nset -e\nexec "
                      + result["shell"] + "\n")
    os.chmod(script, script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP)
    atomic_write_json(out / "lora_modules.json", {k: result[k] for k in (
        "base", "base_path", "adapters", "max_lora_rank", "max_loras")})
    return [str(script), str(out / "lora_modules.json")]


def print_export(result: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        emit_json(result)
        return
    for line in result["warnings"]:
        click.echo(f"warning: {line}", err=True)
    click.echo(result["shell"])
    for f in result["files"]:
        click.echo(f"wrote {f}", err=True)
