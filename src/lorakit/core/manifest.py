"""The manifest: exactly what made an adapter.

``manifest.json`` sits beside the PEFT files in every adapter folder. The
registry stores it, eval and serve read it (base hash and template hash are
checked before an adapter is used).
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lorakit.core.errors import LorakitError
from lorakit.core.io import atomic_write_json

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


@dataclass
class Manifest:
    name: str
    base_model: dict[str, Any]  # {"name", "path", "weights_hash"}
    data: dict[str, Any]  # {"train": {"path","sha256","rows"}, "eval": {...}|None, "tokens_sha256"}
    config: dict[str, Any]  # Config.to_dict()
    seed: int
    template_hash: str
    versions: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    eval: list[dict[str, Any]] = field(default_factory=list)  # appended by `lorakit eval`
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, folder: str | Path) -> None:
        atomic_write_json(Path(folder) / MANIFEST, self.to_dict())


def versions() -> dict[str, str]:
    import peft
    import torch
    import transformers

    import lorakit

    return {"lorakit": lorakit.__version__, "torch": torch.__version__,
            "transformers": transformers.__version__, "peft": peft.__version__,
            "python": platform.python_version()}


def read_manifest(folder: str | Path) -> Manifest:
    path = Path(folder) / MANIFEST
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LorakitError("no manifest.json: not an adapter made by lorakit", path=folder,
                           fix="register a PEFT adapter made elsewhere with "
                               "`lorakit adapters add DIR --base BASE`") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise LorakitError(f"manifest is corrupt ({exc})", path=path,
                           fix="re-train, or restore the adapter folder from a copy") from None
    known = set(Manifest.__dataclass_fields__)
    try:
        return Manifest(**{k: v for k, v in raw.items() if k in known})
    except TypeError as exc:
        raise LorakitError(f"manifest is missing fields ({exc})", path=path) from None
