"""Keeping results with the adapter, and comparing them across adapters.

Each eval appends one compact entry (metrics, flags, data fingerprint, the
settings in force; not the per-example outputs) to the adapter's manifest
``eval`` list with an atomic write, and to the registry when the adapter is
registered. ``compare`` reads those entries back for adapters of one base.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from lorakit.core.errors import LorakitError, UsageError
from lorakit.core.manifest import read_manifest
from lorakit.eval.targets import Target, resolve_adapter

SUMMARY_KEYS = (
    "loss",
    "exact_match",
    "rouge_l",
    "length_ok",
    "format_ok",
    "score",
    "metric",
    "same_as_base",
    "general_loss",
    "forgetting",
    "hit_max_tokens",
)


def _compact(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: summary.get(k) for k in SUMMARY_KEYS if k in summary}


def entry_for(name: str, result: dict[str, Any]) -> dict[str, Any]:
    """The entry recorded for adapter ``name`` from a full result."""
    adapter = result["adapter"] if "adapter" in result else result["adapters"][name]
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "data": result["data"],
        "metric": result["metric"],
        "base": _compact(result["base"]) | {"name": result["base"].get("name")},
        "adapter": _compact(adapter),
        "also_base": {k: _compact(v) for k, v in result.get("also_base", {}).items()},
        "flags": [f for f in result["flags"] if f["model"] == name],
        "settings": result["settings"],
    }


def record_results(targets: list[Target], result: dict[str, Any]) -> None:
    """Append each adapter's entry to its manifest and to the registry."""
    for target in targets:
        entry = entry_for(target.name, result)
        if target.manifest is not None:
            try:
                manifest = read_manifest(target.folder)
                manifest.eval = [*manifest.eval, entry]
                manifest.save(target.folder)  # atomic: temp file, fsync, rename
            except OSError as exc:
                print(
                    f"warning: could not record the result in {target.folder} ({exc})",
                    file=sys.stderr,
                )
        if target.registered:
            from lorakit.adapters.registry import Registry

            Registry().record_eval(target.registered, entry)


def _history(spec: str | Path) -> tuple[Target, list[dict[str, Any]]]:
    """An adapter's recorded evals: the registry's when registered, else its manifest's."""
    target = resolve_adapter(spec)
    entries = list(target.manifest.eval) if target.manifest else []
    if target.registered:
        from lorakit.adapters.registry import Registry

        entries = Registry().get(target.registered).eval or entries
    return target, entries


def compare(adapters: list[str | Path]) -> dict[str, Any]:
    """The latest recorded eval of each adapter, grouped by held-out data.

    With no adapters given, every registered adapter is compared. Adapters of
    different bases are refused: their numbers do not measure the same thing.
    """
    if not adapters:
        from lorakit.adapters.registry import Registry

        adapters = Registry().names()
    if not adapters:
        raise UsageError(
            "no adapters to compare",
            fix="pass --adapter DIR (twice or more), or register adapters first",
        )
    rows, bases = [], {}
    for spec in adapters:
        target, entries = _history(spec)
        bases[target.name] = target.base_hash()
        if not entries:
            rows.append({"adapter": target.name, "evaluated": None})
            continue
        last = entries[-1]
        rows.append(
            {
                "adapter": target.name,
                "evaluated": last.get("time"),
                "data": last["data"].get("path"),
                "data_sha256": last["data"].get("sha256"),
                "rows": last["data"].get("rows"),
                "metric": last.get("metric"),
                "base": last["base"],
                **last["adapter"],
                "flags": [f["check"] for f in last.get("flags", [])],
                "evals": len(entries),
            }
        )
    distinct = {h for h in bases.values() if h}
    if len(distinct) > 1:
        raise LorakitError(
            "these adapters were trained on different bases: "
            + ", ".join(f"{n} ({(h or '?')[:19]})" for n, h in bases.items()),
            fix="compare adapters of one base",
        )
    datasets = {r.get("data_sha256") for r in rows if r.get("evaluated")}
    return {"adapters": rows, "same_data": len(datasets) <= 1}
