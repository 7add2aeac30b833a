"""`lorakit init`: copy a project template (config, example rows, README) into a folder."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from lorakit.core.errors import LorakitError


def _walk(node, prefix: str = ""):
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.is_dir():
            yield from _walk(child, f"{prefix}{child.name}/")
        elif not child.name.startswith((".", "__")):
            yield f"{prefix}{child.name}", child


def create_project(template: str, directory: str | Path, force: bool = False) -> list[str]:
    """Write the template's files under ``directory``; the list of files written."""
    root = resources.files("lorakit") / "templates" / template
    if not root.is_dir():
        raise LorakitError(f"no template named {template!r}")
    target = Path(directory)
    if target.exists() and any(target.iterdir()) and not force:
        raise LorakitError("the folder is not empty", path=target,
                           fix="choose a new folder, or pass --force to write into it")
    written = []
    for rel, source in _walk(root):
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(source.read_bytes())
        written.append(rel)
    return written
