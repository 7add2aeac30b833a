"""Crash-safe writes: a file is either the old one or the complete new one.

Every artifact (adapter weights, manifest, checkpoint state, cleaned data) is
written to a temporary file in the same folder, fsynced, then renamed over the
target, and the folder is fsynced so the rename itself survives a power cut.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def fsync_dir(folder: str | Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def atomic_replace_dir(tmp_dir: str | Path, target: str | Path) -> None:
    """Move a fully written folder into place (the old one, if any, is removed after)."""
    tmp_dir, target = Path(tmp_dir), Path(target)
    for f in tmp_dir.rglob("*"):
        if f.is_file():
            with f.open("rb") as fh:
                os.fsync(fh.fileno())
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        if old.exists():
            import shutil

            shutil.rmtree(old)
        os.replace(target, old)
    os.replace(tmp_dir, target)
    fsync_dir(target.parent)
    if old is not None:
        import shutil

        shutil.rmtree(old, ignore_errors=True)


def file_sha256(path: str | Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()
