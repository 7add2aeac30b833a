"""Paths of the lorakit home (``~/.lorakit`` or ``$LORAKIT_HOME``)."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    root = Path(os.environ.get("LORAKIT_HOME", Path.home() / ".lorakit")).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def models_dir() -> Path:
    """Converted bases; ``$LORAKIT_MODELS`` shares one cache across homes (tests do)."""
    path = Path(os.environ.get("LORAKIT_MODELS", home() / "models")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir() -> Path:
    path = home() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def registry_path() -> Path:
    return Path(os.environ.get("LORAKIT_REGISTRY", home() / "registry.db"))
