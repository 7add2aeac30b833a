"""What is evaluated: adapter folders (or registry names), their base, their template.

Every check that can fail here runs before a weight is loaded: the adapter
folders exist, they share one base, and the base's tokenizer renders the
chat template each adapter was trained with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lorakit.core.errors import LorakitError, UsageError
from lorakit.core.manifest import MANIFEST, Manifest, read_manifest
from lorakit.core.models import Base, resolve_base
from lorakit.core.template import template_hash


@dataclass
class Target:
    """One adapter to evaluate."""

    name: str  # unique within this eval; the PEFT adapter name
    folder: Path
    manifest: Manifest | None  # None for a PEFT adapter made elsewhere
    registered: str | None = None  # its registry name, when it has one

    def base_hash(self) -> str | None:
        return (
            (self.manifest.base_model or {}).get("weights_hash") if self.manifest else None
        )


def _registry():
    from lorakit.adapters.registry import Registry

    return Registry()


def _registered_as(folder: Path, names: list[str]) -> str | None:
    """The registry name whose record points at ``folder``, if any."""
    try:
        registry = _registry()
        known = set(registry.names())
        for name in names:
            if (
                name in known
                and Path(registry.get(name).path).resolve() == folder.resolve()
            ):
                return name
    except LorakitError:
        return None
    return None


def resolve_adapter(spec: str | Path) -> Target:
    """A folder or a registry name to a Target (manifest read, registry noted)."""
    path = Path(spec).expanduser()
    if path.is_dir():
        folder, registered = path.resolve(), None
    else:
        folder = _registry().resolve(str(spec))  # a clear error when unknown
        registered = str(spec)
    manifest = read_manifest(folder) if (folder / MANIFEST).exists() else None
    name = manifest.name if manifest and manifest.name else folder.name
    if registered is None:
        registered = _registered_as(folder, [name, folder.name])
    return Target(_safe_name(registered or name), folder, manifest, registered)


def _safe_name(name: str) -> str:
    # PEFT adapter names become module attribute keys: no dots
    return re.sub(r"[^A-Za-z0-9_-]", "_", name) or "adapter"


def unique_names(targets: list[Target]) -> None:
    """Make adapter names unique (``a``, ``a-2``) so none shadows another."""
    seen: dict[str, int] = {}
    for target in targets:
        count = seen.get(target.name, 0) + 1
        seen[target.name] = count
        if count > 1:
            target.name = f"{target.name}-{count}"
    if any(t.name in ("base", "__base__") for t in targets):
        raise UsageError(
            "an adapter may not be named 'base'",
            fix="rename the adapter folder or register it under another name",
        )


def pick_base(targets: list[Target], spec: str | Path | None) -> Base:
    """The base every adapter was trained on (or ``spec`` when given)."""
    if spec is not None:
        return resolve_base(spec)
    hashes = {t.base_hash() for t in targets if t.base_hash()}
    if len(hashes) > 1:
        listed = ", ".join(f"{t.name} ({(t.base_hash() or '?')[:19]})" for t in targets)
        raise UsageError(
            f"the adapters were trained on different bases: {listed}",
            fix="evaluate adapters of one base together",
        )
    for target in targets:
        info = (target.manifest.base_model or {}) if target.manifest else {}
        if info.get("path") and Path(info["path"]).is_dir():
            found = resolve_base(info["path"])
            return Base(info.get("name") or found.name, found.path)
        if info.get("name"):
            return resolve_base(info["name"])
    if targets:
        raise UsageError(
            f"cannot tell which base {targets[0].folder} was trained on (no manifest.json)",
            fix="pass --base BASE",
        )
    raise UsageError("nothing to evaluate", fix="pass --adapter DIR (or --base BASE alone)")


def check_templates(targets: list[Target], tokenizer) -> list[str]:
    """Refuse an adapter trained with another chat template; warnings for unknown ones."""
    have = template_hash(tokenizer)
    warnings = []
    for target in targets:
        if target.manifest is None:
            warnings.append(
                f"{target.name}: no manifest, so its chat template cannot be "
                "checked; assuming the base's"
            )
            continue
        want = target.manifest.template_hash
        if want and want != have:
            raise LorakitError(
                f"adapter {target.name!r} was trained with chat template {want}, but the "
                f"base's tokenizer renders {have}",
                path=target.folder / MANIFEST,
                fix="evaluate with the tokenizer it was trained with (its base folder), "
                "or re-train on this one",
            )
    return warnings


def zero_lora_b(folder: Path) -> bool:
    """True when every lora_B weight is zero: PEFT's init, i.e. never trained."""
    from safetensors import safe_open

    with safe_open(str(folder / "adapter_model.safetensors"), framework="pt") as fh:
        keys = [k for k in fh.keys() if "lora_B" in k]
        return bool(keys) and all(not fh.get_tensor(k).any() for k in keys)
