"""The adapter registry: register, update, list, eval history, name safety, base checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lorakit.adapters.registry import Registry, validate_name
from lorakit.core.errors import LorakitError
from lorakit.core.manifest import Manifest
from lorakit.core.models import weights_hash


def make_peft_adapter(base_dir: Path, out: Path, seed: int, rank: int = 4,
                      scale: float = 0.5) -> Path:
    """A PEFT LoRA adapter on ``base_dir`` whose lora_B is random (so outputs differ)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base_dir)
    config = LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=["q_proj", "v_proj",
                                                                      "o_proj", "down_proj"])
    peft_model = get_peft_model(model, config)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for pname, param in peft_model.named_parameters():
            if "lora_B" in pname:
                param.copy_(torch.randn(param.shape, generator=gen) * scale)
    peft_model.save_pretrained(out, safe_serialization=True)
    return out


def add_manifest(folder: Path, base_dir: Path, name: str = "tiny") -> None:
    Manifest(name=name, base_model={"name": name, "path": str(base_dir),
                                    "weights_hash": weights_hash(base_dir)},
             data={"train": {"path": "t.jsonl", "sha256": "sha256:abc", "rows": 3},
                   "tokens_sha256": "sha256:tok"},
             config={"lora": {"rank": 4}}, seed=0, template_hash="sha256:t",
             metrics={"final_loss": 1.25}).save(folder)


@pytest.fixture(scope="module")
def adapter_dir(tiny_base, tmp_path_factory):
    return make_peft_adapter(tiny_base, tmp_path_factory.mktemp("ad") / "alpha", seed=1)


def test_register_peft_adapter_resolves_and_hashes_base(adapter_dir, tiny_base, tmp_path):
    reg = Registry(tmp_path / "r.db")
    rec = reg.register(adapter_dir, name="alpha", base=str(tiny_base))
    assert rec.source == "peft" and rec.rank == 4 and rec.alpha == 8
    assert rec.base_hash == weights_hash(tiny_base)
    assert reg.get("alpha").path == str(adapter_dir.resolve())
    assert reg.resolve("alpha") == adapter_dir.resolve()
    assert [r.name for r in reg.list()] == ["alpha"]


def test_base_from_adapter_config(adapter_dir, tmp_path):
    # get_peft_model records the base folder in adapter_config.json
    declared = json.loads((adapter_dir / "adapter_config.json").read_text())
    rec = Registry(tmp_path / "r.db").register(adapter_dir, name="alpha")
    assert Path(rec.base_path) == Path(declared["base_model_name_or_path"]).resolve()


def test_manifest_adapter_update_and_eval_history(adapter_dir, tiny_base, tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    for f in adapter_dir.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    add_manifest(folder, tiny_base)
    reg = Registry(tmp_path / "r.db")
    rec = reg.register(folder, name="run1")
    assert rec.source == "lorakit" and rec.data_fingerprint == "sha256:tok"
    assert rec.metrics == {"final_loss": 1.25} and rec.config == {"lora": {"rank": 4}}
    reg.record_eval("run1", {"metric": "exact_match", "adapter": 0.5, "base": 0.1})
    # registering the same name again updates the row and keeps the eval history
    again = reg.register(folder, name="run1")
    assert again.registered >= rec.registered
    assert [e["adapter"] for e in reg.get("run1").eval] == [0.5]
    assert len(reg.list()) == 1


def test_manifest_base_contradiction_refused(adapter_dir, tiny_base, tmp_path, default_base):
    folder = tmp_path / "run"
    folder.mkdir()
    for f in adapter_dir.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    add_manifest(folder, tiny_base)
    with pytest.raises(LorakitError, match="trained on base"):
        Registry(tmp_path / "r.db").register(folder, base="default")


@pytest.mark.parametrize("bad", ["../x", "a/b", "", ".hidden", "a" * 65, "x..y", "__base__",
                                 "a b", "/abs", "name\n"])
def test_bad_names_refused(bad):
    with pytest.raises(LorakitError):
        validate_name(bad)


def test_unknown_name_suggests_closest(adapter_dir, tiny_base, tmp_path):
    reg = Registry(tmp_path / "r.db")
    reg.register(adapter_dir, name="alpha", base=str(tiny_base))
    with pytest.raises(LorakitError, match="did you mean 'alpha'"):
        reg.get("alpah")
    with pytest.raises(LorakitError, match="no adapter named"):
        reg.resolve("nothing-here")
    removed = reg.remove("alpha")
    assert removed.name == "alpha" and reg.list() == []
    assert adapter_dir.exists()  # rm forgets, never deletes the folder


def test_pickle_only_folder_refused(tmp_path, tiny_base):
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "adapter_model.bin").write_bytes(b"\x80\x04junk")
    (folder / "adapter_config.json").write_text("{}")
    with pytest.raises(LorakitError, match="only safetensors"):
        Registry(tmp_path / "r.db").register(folder, base=str(tiny_base))


def test_default_path_in_home(monkeypatch, tmp_path):
    monkeypatch.setenv("LORAKIT_HOME", str(tmp_path / "h"))
    assert Registry().path == tmp_path / "h" / "registry.db"
    monkeypatch.setenv("LORAKIT_REGISTRY", str(tmp_path / "other.db"))
    assert Registry().path == tmp_path / "other.db"
