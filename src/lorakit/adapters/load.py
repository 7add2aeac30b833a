"""Load one base and several PEFT adapters side by side, checked.

Checks before any weight is used: the folder holds a PEFT adapter in
safetensors (no pickle), the file is complete (its safetensors header parses
and the data length matches), and the adapter was trained for this base
(weights hash in the manifest). Each adapter is a named PEFT adapter, so a
batch can mix them with ``adapter_names``.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from lorakit.core.errors import LorakitError
from lorakit.core.manifest import MANIFEST, read_manifest
from lorakit.core.models import Base

WEIGHTS = "adapter_model.safetensors"
CONFIG = "adapter_config.json"


def verify_adapter_files(folder: str | Path) -> dict[str, Any]:
    """Check a PEFT adapter folder is complete and safe; return its adapter_config."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LorakitError("adapter folder not found", path=folder)
    if not (folder / WEIGHTS).exists():
        pickled = [p.name for p in folder.glob("*.bin")] + [p.name for p in folder.glob("*.pt")]
        if pickled:
            raise LorakitError(f"only pickle weights found ({', '.join(pickled)}); lorakit "
                               "loads only safetensors", path=folder,
                               fix="convert with peft: model.save_pretrained(dir, "
                                   "safe_serialization=True)")
        raise LorakitError(f"no {WEIGHTS}: not a PEFT adapter folder", path=folder)
    try:
        config = json.loads((folder / CONFIG).read_text())
    except (FileNotFoundError, ValueError) as exc:
        raise LorakitError(f"{CONFIG} is missing or corrupt ({type(exc).__name__})", path=folder,
                           fix="restore the adapter folder from a copy or re-train") from None
    _check_safetensors(folder / WEIGHTS)
    return config


def _check_safetensors(path: Path) -> None:
    """A truncated or corrupt safetensors file is caught here, with a clear error."""
    size = path.stat().st_size
    try:
        with path.open("rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            if n <= 0 or n > size - 8:
                raise ValueError("header length out of range")
            header = json.loads(fh.read(n))
        ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
        if 8 + n + max(ends, default=0) != size:
            raise ValueError(f"data is {size - 8 - n} bytes, header says {max(ends, default=0)}")
    except (struct.error, ValueError, KeyError, TypeError) as exc:
        raise LorakitError(f"adapter weights are truncated or corrupt ({exc})", path=path,
                           fix="restore the adapter from a copy or re-train; a checkpoint-STEP/ "
                               "folder may still hold a complete one") from None


def check_base_match(folder: str | Path, base: Base) -> None:
    """Refuse an adapter trained on a different base than ``base``."""
    folder = Path(folder)
    if not (folder / MANIFEST).exists():
        return  # a PEFT adapter made elsewhere: the registry checks its declared base
    manifest = read_manifest(folder)
    want = manifest.base_model.get("weights_hash")
    have = base.weights_hash()
    if want and want != have:
        raise LorakitError(
            f"adapter was trained on base {manifest.base_model.get('name')!r} "
            f"({want[:19]}), not on {base.name!r} ({have[:19]})", path=folder,
            fix=f"load it with --base {manifest.base_model.get('name')}")


def load_with_adapters(model, adapters: dict[str, str | Path], base: Base | None = None):
    """Wrap ``model`` in a PeftModel holding every adapter under its name."""
    from peft import PeftModel

    peft_model = None
    for name, folder in adapters.items():
        verify_adapter_files(folder)
        if base is not None:
            check_base_match(folder, base)
        if peft_model is None:
            peft_model = PeftModel.from_pretrained(model, str(folder), adapter_name=name,
                                                   is_trainable=False)
        else:
            peft_model.load_adapter(str(folder), adapter_name=name, is_trainable=False)
    return peft_model if peft_model is not None else model


def check_record_base(record, base: Base) -> None:
    """Refuse a registered adapter (an ``AdapterRecord``) whose base hash is not ``base``'s."""
    want = getattr(record, "base_hash", None)
    if want and want != base.weights_hash():
        raise LorakitError(
            f"adapter {record.name!r} is registered for base {record.base_name!r} "
            f"({want[:19]}), not for {base.name!r}", path=record.path,
            fix=f"serve it with --base {record.base_name}")


def base_spec_for(registry, adapters: list[str], folders: dict[str, Path]) -> str:
    """The base to load when --base is not given: the one the adapters were made for.

    ``registry`` is a ``Registry``; ``adapters`` are registered names and
    ``folders`` maps names to adapter folders. Falls back to the default base.
    """
    for name in adapters:
        record = registry.find(name)
        if record is not None:
            return record.base_path if record.base_path and Path(record.base_path).is_dir() \
                else record.base_name or "default"
    for folder in folders.values():
        if (Path(folder) / MANIFEST).exists():
            info = read_manifest(folder).base_model
            path = info.get("path")
            return path if path and Path(path).is_dir() else info.get("name") or "default"
        try:
            declared = json.loads((Path(folder) / "adapter_config.json").read_text())
            if declared.get("base_model_name_or_path"):
                return declared["base_model_name_or_path"]
        except (OSError, ValueError):
            pass
    return "default"
