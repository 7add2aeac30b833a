"""The adapter registry: one SQLite file recording every adapter lorakit knows.

Each row holds what a user asks about an adapter later: where it is, which
base it was trained on (name, folder and weights hash), the data fingerprint,
the whole training config, metrics and eval results, and when it was made.
``train`` registers what it makes; ``lorakit adapters add DIR --base ID``
registers a PEFT adapter made elsewhere. Registering a name again updates it.

The file lives at ``$LORAKIT_HOME/registry.db`` (``$LORAKIT_REGISTRY`` or
``Registry(path)`` override it). Each call opens its own short connection, so
one ``Registry`` is safe to share between threads (the server does).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lorakit.core.errors import LorakitError, UsageError, closest, shorten
from lorakit.core.home import registry_path
from lorakit.core.manifest import MANIFEST, read_manifest

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
BASE_NAME = "__base__"  # PEFT's name for "no adapter" in a mixed batch

_SCHEMA = """
CREATE TABLE IF NOT EXISTS adapters (
    name TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    source TEXT NOT NULL,
    base_name TEXT,
    base_path TEXT,
    base_hash TEXT,
    data_fingerprint TEXT,
    rank INTEGER,
    alpha REAL,
    target_modules TEXT,
    config TEXT NOT NULL,
    data TEXT NOT NULL,
    metrics TEXT NOT NULL,
    eval TEXT NOT NULL,
    created TEXT,
    registered TEXT NOT NULL
)
"""
_JSON_COLUMNS = ("target_modules", "config", "data", "metrics", "eval")


@dataclass
class AdapterRecord:
    """One registered adapter, as stored."""

    name: str
    path: str
    source: str  # "lorakit" (has manifest.json) or "peft" (made elsewhere)
    base_name: str | None
    base_path: str | None
    base_hash: str | None
    data_fingerprint: str | None
    rank: int | None
    alpha: float | None
    target_modules: Any
    config: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    eval: list[dict[str, Any]] = field(default_factory=list)
    created: str | None = None
    registered: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def validate_name(name: str) -> str:
    """A registry name: letters, digits, '.', '_', '-'; no path separators or '..'."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or ".." in name:
        raise UsageError(f"adapter name {shorten(name)} is not valid",
                         fix="use 1-64 letters, digits, '.', '_' or '-', starting with a "
                             "letter or digit (no '/', no '..')")
    if name == BASE_NAME:
        raise UsageError(f"{BASE_NAME!r} is reserved for the base model",
                         fix="pick another name")
    return name


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Registry:
    """The SQLite registry of adapters (see the module docstring)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else registry_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connect().close()

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, timeout=30)
        except sqlite3.Error as exc:
            raise LorakitError(f"cannot open the registry ({exc})", path=self.path,
                               fix="check the folder is writable, or set LORAKIT_REGISTRY") \
                from None
        db.row_factory = sqlite3.Row
        with db:
            db.execute(_SCHEMA)  # cheap when present; also recreates a deleted file's table
        return db

    # --- writing -------------------------------------------------------------

    def register(self, folder: str | Path, name: str | None = None,
                 base: str | None = None) -> AdapterRecord:
        """Record the adapter in ``folder`` (a lorakit run or any PEFT adapter)."""
        from lorakit.adapters.load import verify_adapter_files

        folder = Path(folder).expanduser().resolve()
        peft_config = verify_adapter_files(folder)
        name = validate_name(name if name is not None else folder.name)

        # what made it: the manifest when lorakit trained it, else the PEFT config
        if (folder / MANIFEST).exists():
            fields = _from_manifest(folder, base)
        else:
            fields = _from_peft_config(folder, peft_config, base)
        record = AdapterRecord(
            name=name, path=str(folder), rank=peft_config.get("r"),
            alpha=peft_config.get("lora_alpha"),
            target_modules=peft_config.get("target_modules"), registered=_now(), **fields)

        # keep eval results already recorded under this name for the same folder
        old = self.find(name)
        if old is not None and old.path == record.path:
            record.eval = _merge_evals(old.eval, record.eval)
        self._upsert(record)
        return record

    def _upsert(self, record: AdapterRecord) -> None:
        row = record.to_dict()
        for key in _JSON_COLUMNS:
            row[key] = json.dumps(row[key], default=str)
        cols = ", ".join(row)
        marks = ", ".join(f":{k}" for k in row)
        with closing(self._connect()) as db, db:
            db.execute(f"INSERT OR REPLACE INTO adapters ({cols}) VALUES ({marks})", row)

    def remove(self, name: str) -> AdapterRecord:
        """Forget an adapter (its folder on disk is left alone)."""
        record = self.get(name)
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM adapters WHERE name = ?", (record.name,))
        return record

    def record_eval(self, name: str, results: dict[str, Any]) -> AdapterRecord:
        """Append one eval result (a JSON-able dict) to the adapter's history."""
        record = self.get(name)
        entry = {"time": _now(), **results}
        record.eval = [*record.eval, entry]
        with closing(self._connect()) as db, db:
            db.execute("UPDATE adapters SET eval = ? WHERE name = ?",
                       (json.dumps(record.eval, default=str), record.name))
        return record

    # --- reading -------------------------------------------------------------

    def find(self, name: str) -> AdapterRecord | None:
        """The record for ``name``, or None."""
        with closing(self._connect()) as db:
            row = db.execute("SELECT * FROM adapters WHERE name = ?", (name,)).fetchone()
        return _to_record(row) if row is not None else None

    def get(self, name: str) -> AdapterRecord:
        """The record for ``name``; a clear error (with the closest name) if unknown."""
        record = self.find(name) if isinstance(name, str) else None
        if record is None:
            names = self.names()
            near = closest(str(name), names)
            raise LorakitError(
                f"no adapter named {shorten(name)} in the registry",
                fix=(f"did you mean {near!r}? " if near else "")
                + "`lorakit adapters list` shows what is registered; "
                  "`lorakit adapters add DIR` registers a folder")
        return record

    def names(self) -> list[str]:
        with closing(self._connect()) as db:
            return [r[0] for r in db.execute("SELECT name FROM adapters ORDER BY name")]

    def list(self) -> list[AdapterRecord]:
        """Every registered adapter, by name."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT * FROM adapters ORDER BY name").fetchall()
        return [_to_record(r) for r in rows]

    def resolve(self, name_or_path: str | Path) -> Path:
        """A registered name, or an adapter folder, to the folder's path."""
        text = str(name_or_path)
        if isinstance(name_or_path, str) and NAME_RE.fullmatch(text):
            record = self.find(text)
            if record is not None:
                path = Path(record.path)
                if not path.is_dir():
                    raise LorakitError(f"adapter {text!r} is registered but its folder is "
                                       "gone", path=path,
                                       fix=f"`lorakit adapters rm {text}`, or restore it")
                return path
        path = Path(text).expanduser()
        if path.is_dir():
            return path.resolve()
        self.get(text)  # raises the 'no adapter named' error with a suggestion
        raise AssertionError("unreachable")


def _to_record(row: sqlite3.Row) -> AdapterRecord:
    values = dict(row)
    for key in _JSON_COLUMNS:
        values[key] = json.loads(values[key]) if values[key] is not None else None
    values["eval"] = values["eval"] or []
    return AdapterRecord(**values)


def _merge_evals(old: list[dict], new: list[dict]) -> list[dict]:
    seen = {json.dumps(e, sort_keys=True, default=str) for e in old}
    return old + [e for e in new if json.dumps(e, sort_keys=True, default=str) not in seen]


def _fingerprint(data: dict[str, Any]) -> str | None:
    if data.get("tokens_sha256"):
        return data["tokens_sha256"]
    train = data.get("train") or {}
    return train.get("sha256") if isinstance(train, dict) else None


def _from_manifest(folder: Path, base: str | None) -> dict[str, Any]:
    """Fields of a lorakit-made adapter; a --base that contradicts it is refused."""
    manifest = read_manifest(folder)
    info = manifest.base_model or {}
    if base is not None:
        from lorakit.core.models import resolve_base

        given = resolve_base(base)
        want = info.get("weights_hash")
        if want and given.weights_hash() != want:
            raise LorakitError(
                f"adapter was trained on base {info.get('name')!r}, not on {base!r} "
                "(weights hash differs)", path=folder,
                fix=f"drop --base, or pass --base {info.get('name')}")
    return {"source": "lorakit", "base_name": info.get("name"), "base_path": info.get("path"),
            "base_hash": info.get("weights_hash"), "data_fingerprint": _fingerprint(
                manifest.data or {}), "config": manifest.config or {},
            "data": manifest.data or {}, "metrics": manifest.metrics or {},
            "eval": list(manifest.eval or []), "created": manifest.created}


def _from_peft_config(folder: Path, peft_config: dict[str, Any],
                      base: str | None) -> dict[str, Any]:
    """Fields of a PEFT adapter made elsewhere: the base from --base or its config."""
    from lorakit.core.models import resolve_base

    spec = base or peft_config.get("base_model_name_or_path")
    if not spec:
        raise UsageError("the adapter does not say which base it was trained on",
                         path=folder, fix="pass --base BASE (a folder, hub id or 'default')")
    try:
        resolved = resolve_base(spec)
    except LorakitError as exc:
        raise LorakitError(f"cannot find the adapter's base {shorten(spec)}: {exc.message}",
                           path=folder, fix="pass --base with a local folder or "
                                            "'default'") from None
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                            time.gmtime((folder / "adapter_model.safetensors").stat().st_mtime))
    return {"source": "peft", "base_name": resolved.name, "base_path": str(resolved.path),
            "base_hash": resolved.weights_hash(), "data_fingerprint": None,
            "config": {"peft": peft_config}, "data": {}, "metrics": {}, "eval": [],
            "created": created}
