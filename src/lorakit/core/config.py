"""One typed config tree (data, lora, train, eval): defaults < YAML < CLI flags.

The dataclasses below are the single source of truth: YAML keys, CLI
overrides and the config saved in an adapter's manifest all come from them.
Every problem in a config is collected into one error before any weight is
loaded; an unknown key is refused with the closest valid name.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lorakit.core.errors import UsageError, closest, shorten


@dataclass
class DataConfig:
    train: str | None = None  # training JSONL (canonical chat rows)
    eval: str | None = None  # held-out JSONL
    max_tokens: int = 2048  # length limit of one rendered example, in base tokens


@dataclass
class LoraConfig:
    rank: int = 16
    alpha: int = 32
    # 0 by default: PEFT's LoRA dropout copies every adapted layer's input and
    # measured 2x slower per step here (185 vs 359 tok/s, SmolLM2-135M bf16);
    # a few epochs on a few hundred rows did not need it
    dropout: float = 0.0
    target_modules: list[str] | str = "all-linear"


@dataclass
class TrainConfig:
    base: str = "default"  # hub id, local folder, or "default" (embedded SmolLM2-135M)
    out: str | None = None  # adapter folder; None -> $LORAKIT_HOME/runs/<name>
    name: str | None = None  # registry name; None -> the out folder's name
    epochs: int = 3
    max_steps: int | None = None
    lr: float = 1e-3  # small data, rank 16: learns a voice in ~25 steps (docs/train.md)
    batch_size: int = 32  # most examples per optimizer step (see tokens_per_step)
    tokens_per_step: int = 2048  # most real tokens per optimizer step (padding not counted)
    warmup_steps: int = 5
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    seed: int = 0
    save_every: int | None = None
    eval_every: int | None = None
    dtype: str = "auto"  # auto | bfloat16 | float16 | float32
    lora_dtype: str = "auto"  # auto (the base's dtype on CPU, fp32 on GPU) | float32
    device: str = "auto"  # auto | cpu | cuda | mps
    compile: bool = False
    tensorboard: bool = False
    resume: bool = False
    overwrite: bool = False  # replace an adapter already in train.out
    trust_remote_code: bool = False


@dataclass
class EvalConfig:
    max_new_tokens: int = 128
    metric: str = "auto"  # auto | exact_match | rouge_l | none
    temperature: float = 0.0  # 0 = greedy
    seed: int = 0
    forgetting_threshold: float = 0.10  # relative loss increase on general text


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


SECTIONS = tuple(f.name for f in dataclasses.fields(Config))


def all_keys() -> list[str]:
    """Every dotted key the config accepts, e.g. ``train.lr``."""
    keys = []
    for section in dataclasses.fields(Config):
        for f in dataclasses.fields(section.default_factory()):
            keys.append(f"{section.name}.{f.name}")
    return keys


def _hint(cls: type, name: str) -> Any:
    return typing.get_type_hints(cls)[name]


def _coerce(value: Any, hint: Any, key: str, errors: list[str]) -> Any:
    """Check ``value`` against a type hint; YAML and CLI strings are converted."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            trial: list[str] = []
            out = _coerce(value, option, key, trial)
            if not trial:
                return out
        names = " or ".join(getattr(o, "__name__", str(o)) for o in options)
        errors.append(f"{key}: expected {names}, got {shorten(value)}")
        return value
    if origin is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            errors.append(f"{key}: expected a list, got {shorten(value)}")
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
            return value.lower() in ("true", "yes", "1")
        errors.append(f"{key}: expected true or false, got {shorten(value)}")
        return value
    if hint in (int, float):
        if isinstance(value, bool):
            errors.append(f"{key}: expected a number, got {shorten(value)}")
            return value
        try:
            number = hint(value)
        except (TypeError, ValueError):
            errors.append(f"{key}: expected {hint.__name__}, got {shorten(value)}")
            return value
        if hint is int and isinstance(value, float) and value != int(value):
            errors.append(f"{key}: expected an integer, got {shorten(value)}")
        return number
    if hint is str:
        if isinstance(value, (dict, list)):
            errors.append(f"{key}: expected text, got {shorten(value)}")
            return value
        return str(value)
    return value


def _apply(cfg: Config, key: str, value: Any, errors: list[str], where: str) -> None:
    parts = key.split(".")
    if len(parts) != 2 or parts[0] not in SECTIONS:
        near = closest(key, all_keys())
        errors.append(f"{where}unknown key {key!r}" + (f"; did you mean {near!r}?" if near else ""))
        return
    section = getattr(cfg, parts[0])
    names = [f.name for f in dataclasses.fields(section)]
    if parts[1] not in names:
        near = closest(parts[1], names)
        hint = f"; did you mean '{parts[0]}.{near}'?" if near else ""
        errors.append(f"{where}unknown key {key!r}{hint}")
        return
    value = _coerce(value, _hint(type(section), parts[1]), f"{where}{key}", errors)
    setattr(section, parts[1], value)


def _flatten(raw: dict[str, Any], errors: list[str], where: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in raw.items():
        name = str(name)
        if name in SECTIONS:
            if not isinstance(value, dict):
                errors.append(f"{where}section {name!r} must be a mapping, got {shorten(value)}")
                continue
            for sub, subvalue in value.items():
                flat[f"{name}.{sub}"] = subvalue
        elif "." in name:
            flat[name] = value
        else:
            near = closest(name, list(SECTIONS) + all_keys())
            hint = f"; did you mean {near!r}?" if near else ""
            errors.append(f"{where}unknown key {name!r}{hint} (sections: {', '.join(SECTIONS)})")
    return flat


def _validate(cfg: Config, errors: list[str]) -> None:
    checks = [
        (cfg.lora.rank > 0, "lora.rank must be positive"),
        (cfg.lora.alpha > 0, "lora.alpha must be positive"),
        (0 <= cfg.lora.dropout < 1, "lora.dropout must be in [0, 1)"),
        (cfg.train.epochs > 0, "train.epochs must be positive"),
        (cfg.train.lr > 0, "train.lr must be positive"),
        (cfg.train.batch_size > 0, "train.batch_size must be positive"),
        (cfg.train.tokens_per_step > 0, "train.tokens_per_step must be positive"),
        (cfg.data.max_tokens > 8, "data.max_tokens must be above 8"),
        (cfg.train.max_steps is None or cfg.train.max_steps > 0, "train.max_steps must be positive"),
        (cfg.train.save_every is None or cfg.train.save_every > 0, "train.save_every must be positive"),
        (cfg.train.eval_every is None or cfg.train.eval_every > 0, "train.eval_every must be positive"),
        (cfg.train.warmup_steps >= 0, "train.warmup_steps must be 0 or more"),
        (cfg.train.grad_clip > 0, "train.grad_clip must be positive"),
        (cfg.train.dtype in ("auto", "bfloat16", "float16", "float32"),
         "train.dtype must be auto, bfloat16, float16 or float32"),
        (cfg.train.lora_dtype in ("auto", "float32"), "train.lora_dtype must be auto or float32"),
        (cfg.train.device in ("auto", "cpu", "cuda", "mps") or cfg.train.device.startswith("cuda:"),
         "train.device must be auto, cpu, cuda[:N] or mps"),
        (cfg.eval.metric in ("auto", "exact_match", "rouge_l", "none"),
         "eval.metric must be auto, exact_match, rouge_l or none"),
    ]
    errors.extend(message for ok, message in checks if not ok)


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Defaults, then the YAML file at ``path``, then ``overrides`` (dotted keys).

    Raises one ``UsageError`` listing every problem found.
    """
    cfg = Config()
    errors: list[str] = []
    if path is not None:
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise UsageError("config file not found", path=path) from None
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            line = getattr(getattr(exc, "problem_mark", None), "line", None)
            raise UsageError(f"not valid YAML: {str(exc).splitlines()[0]}", path=path,
                             line=None if line is None else line + 1) from None
        if not isinstance(raw, dict):
            raise UsageError("a config file must be a mapping of sections", path=path,
                             fix=f"start with one of: {', '.join(s + ':' for s in SECTIONS)}")
        for key, value in _flatten(raw, errors, f"{path}: ").items():
            _apply(cfg, key, value, errors, f"{path}: ")
    for key, value in (overrides or {}).items():
        if value is not None:
            _apply(cfg, key, value, errors, "")
    if not errors:
        _validate(cfg, errors)
    if errors:
        raise UsageError("invalid config:\n  " + "\n  ".join(errors))
    return cfg

