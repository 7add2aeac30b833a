"""Runs: the adapter folders the page can show, with their curves and manifests.

An adapter folder made by ``lorakit train`` holds ``manifest.json`` (what made
it, and its ``eval`` results) and ``metrics.jsonl`` (one JSON object a line,
each with a ``step`` and numbers such as ``loss``, ``eval_loss``, ``lr``).
Runs are found in the registry and in the folders given with ``--runs``
(each folder itself, or its direct subfolders).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lorakit.core.manifest import MANIFEST

METRICS = "metrics.jsonl"
MAX_POINTS = 2000  # per series; longer runs are thinned evenly for the browser


def is_run(folder: Path) -> bool:
    return (folder / MANIFEST).is_file() or (folder / METRICS).is_file()


def discover(registry=None, roots: list[Path] | None = None) -> list[dict[str, Any]]:
    """Every run the page can show: registered adapters first, then folders found."""
    seen: dict[str, dict[str, Any]] = {}
    if registry is not None:
        for record in registry.list():
            folder = Path(record.path)
            seen[str(folder)] = {"name": record.name, "path": str(folder),
                                 "registered": True}
    for root in roots or []:
        root = Path(root).expanduser().resolve()
        candidates = [root] if is_run(root) else sorted(
            p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        for folder in candidates:
            if is_run(folder) and str(folder) not in seen:
                seen[str(folder)] = {"name": folder.name, "path": str(folder),
                                     "registered": False}
    return list(seen.values())


def load_run(path: str | Path) -> dict[str, Any]:
    """One run's manifest, eval results and metric series (problems listed, not raised)."""
    folder = Path(path)
    run: dict[str, Any] = {"path": str(folder), "name": folder.name, "problems": []}
    run["manifest"] = _read_manifest(folder, run["problems"])
    run["eval"] = (run["manifest"] or {}).get("eval") or []
    run["series"] = read_metrics(folder / METRICS, run["problems"])
    return run


def _read_manifest(folder: Path, problems: list[str]) -> dict[str, Any] | None:
    path = folder / MANIFEST
    if not path.exists():
        problems.append("no manifest.json")
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        problems.append(f"manifest.json is corrupt ({exc})")
        return None


def read_metrics(path: Path,
                 problems: list[str] | None = None) -> dict[str, list[list[float]]]:
    """``{"loss": [[step, value], ...], "eval_loss": [...], ...}`` from metrics.jsonl.

    A line that is not JSON (a run killed mid-write leaves one) is skipped and
    counted in ``problems``; every numeric field besides ``step`` is a series.
    """
    problems = problems if problems is not None else []
    series: dict[str, list[list[float]]] = {}
    if not path.exists():
        problems.append("no metrics.jsonl")
        return series
    bad = 0
    with path.open(encoding="utf-8", errors="replace") as fh:
        for text in fh:
            record = _record(text)
            if record is None:
                bad += bool(text.strip())
                continue
            step = record["step"]
            for key, value in record.items():
                if key != "step" and isinstance(value, (int, float)) \
                        and not isinstance(value, bool) and value == value:
                    series.setdefault(key, []).append([step, value])
    if bad:
        problems.append(f"{bad} unreadable line(s) in metrics.jsonl skipped")
    return {k: _thin(v) for k, v in series.items()}


def _record(text: str) -> dict[str, Any] | None:
    try:
        record = json.loads(text)
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("step"), (int, float)):
        return None
    return record


def _thin(points: list[list[float]]) -> list[list[float]]:
    if len(points) <= MAX_POINTS:
        return points
    stride = len(points) / MAX_POINTS
    kept = [points[int(i * stride)] for i in range(MAX_POINTS - 1)]
    return kept + [points[-1]]
