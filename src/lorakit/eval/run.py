"""``evaluate``: base against adapters on the same held-out rows, in one model.

The steps, in order: resolve the adapters and their base, check the chat
template, load the base once with every adapter beside it, then take the
held-out loss, generate, score, run the forgetting check on general text,
optionally run a second base on the same rows, raise flags, and record the
results with each adapter (its manifest, and the registry when registered).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from lorakit.core.config import Config
from lorakit.core.io import file_sha256
from lorakit.eval import infer
from lorakit.eval.cases import Case, general_rows, load_cases, loss_rows, prompt_ids
from lorakit.eval.results import build_results
from lorakit.eval.targets import (
    Target,
    check_templates,
    pick_base,
    resolve_adapter,
    unique_names,
)


def evaluate(
    adapters: list[str | Path],
    data: str | Path,
    *,
    base: str | Path | None = None,
    also_base: list[str | Path] | tuple = (),
    config: Config | None = None,
    metric: str | None = None,
    max_new_tokens: int | None = None,
    temperature: float | None = None,
    seed: int | None = None,
    limit: int | None = None,
    batch_size: int = 64,
    device: str = "auto",
    dtype: str = "auto",
    forgetting: bool = True,
    record: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate the base and each adapter on ``data``; return the JSON result.

    ``adapters`` are folders or registry names trained on one base (``base``
    overrides which). Unset options come from ``config.eval``.
    ``forgetting=False`` skips the general-text pass. With ``record`` the
    result is appended to each adapter's manifest ``eval`` list and to the
    registry. Not supported: adapters of different bases in
    one call, non-LoRA PEFT adapters in one mixed batch.
    """
    from lorakit.core.device import pick_device, pick_dtype, setup_threads
    from lorakit.core.models import load_model, load_tokenizer

    settings = _settings(config or Config(), metric, max_new_tokens, temperature, seed)
    started = time.perf_counter()

    # everything that can be refused is checked before weights load
    targets = [resolve_adapter(spec) for spec in adapters]
    unique_names(targets)
    base_model = pick_base(targets, base)
    tokenizer = load_tokenizer(base_model)
    notes = check_templates(targets, tokenizer)
    cases = load_cases(data, limit)

    # one model: the base with every adapter loaded beside it under its name
    setup_threads()
    dev = pick_device(device)
    torch_dtype = pick_dtype(dtype, dev)
    model = _load(
        load_model(base_model, dtype=torch_dtype, device=dev), targets, base_model
    )
    runs = _run_all(
        model, tokenizer, cases, targets, settings, batch_size, forgetting, progress
    )
    del model

    others = {}
    for spec in also_base:
        others.update(
            _run_other_base(
                spec,
                tokenizer,
                cases,
                settings,
                torch_dtype,
                dev,
                batch_size,
                progress,
                notes,
            )
        )

    settings.update(
        {
            "device": str(dev),
            "dtype": str(torch_dtype).replace("torch.", ""),
            "batch_size": batch_size,
            "forgetting_check": forgetting,
        }
    )
    result = build_results(base_model, targets, cases, runs, others, settings, notes)
    result["data"] = {
        "path": str(Path(data).resolve()),
        "sha256": file_sha256(data),
        "rows": len(cases),
    }
    result["seconds"] = round(time.perf_counter() - started, 1)
    if record:
        from lorakit.eval.record import record_results

        record_results(targets, result)
    return result


def _settings(cfg: Config, metric, max_new_tokens, temperature, seed) -> dict[str, Any]:
    """The eval options in force: flags over the config's eval section."""
    pick = lambda given, default: default if given is None else given  # noqa: E731
    return {
        "metric": pick(metric, cfg.eval.metric),
        "max_new_tokens": int(pick(max_new_tokens, cfg.eval.max_new_tokens)),
        "temperature": float(pick(temperature, cfg.eval.temperature)),
        "seed": int(pick(seed, cfg.eval.seed)),
        "forgetting_threshold": cfg.eval.forgetting_threshold,
        "max_tokens": cfg.data.max_tokens,
    }


def _load(model, targets: list[Target], base_model):
    from lorakit.adapters.load import load_with_adapters

    model.eval()
    if not targets:
        return model
    return load_with_adapters(model, {t.name: t.folder for t in targets}, base_model).eval()


def _run_all(
    model,
    tokenizer,
    cases: list[Case],
    targets: list[Target],
    settings: dict[str, Any],
    batch_size: int,
    forgetting: bool,
    progress: bool,
) -> dict[str, Any]:
    """Loss, generations and general-text loss for the base and every adapter."""
    from lorakit.core.template import end_of_turn_ids

    names = ["base"] + [t.name for t in targets]
    peft_names = [infer.BASE] + [t.name for t in targets] if targets else None

    def repeat(rows: list) -> tuple[list, list[str] | None]:
        # one example's rows for every model, side by side in the same batch
        rows = [row for row in rows for _ in names]
        return rows, (peft_names * (len(rows) // len(names)) if peft_names else None)

    rows, row_names = repeat(loss_rows(tokenizer, cases, settings["max_tokens"]))
    loss = infer.nll(
        model,
        rows,
        row_names,
        tokenizer.pad_token_id,
        batch_size,
        "held-out loss",
        len(names),
        progress,
    )
    prompts, prompt_names = repeat(prompt_ids(tokenizer, cases, settings["max_tokens"]))
    gens = infer.generate(
        model,
        prompts,
        prompt_names,
        tokenizer,
        end_of_turn_ids(tokenizer),
        settings["max_new_tokens"],
        settings["temperature"],
        settings["seed"],
        batch_size,
        len(names),
        progress,
    )
    general_loss = None
    if forgetting:
        general, general_names = repeat(general_rows(tokenizer))
        general_loss = infer.nll(
            model,
            general,
            general_names,
            tokenizer.pad_token_id,
            batch_size,
            "general-text loss",
            len(names),
            progress,
        )
    k = len(names)
    return {
        name: {
            "loss": loss[i::k],
            "generations": gens[i::k],
            "general": general_loss[i::k] if general_loss else None,
        }
        for i, name in enumerate(names)
    }


def _run_other_base(
    spec,
    tokenizer,
    cases: list[Case],
    settings: dict[str, Any],
    torch_dtype,
    dev,
    batch_size: int,
    progress: bool,
    notes: list[str],
) -> dict[str, Any]:
    """A second base on the same rows (own tokenizer; template borrowed if it has none)."""
    from lorakit.core.models import load_model, load_tokenizer, resolve_base
    from lorakit.core.template import end_of_turn_ids

    other = resolve_base(spec)
    other_tok = load_tokenizer(other)
    borrowed = not other_tok.chat_template
    if borrowed:
        message = (
            f"{other.name} has no chat template (a base, not an instruct model); "
            "prompting it with the adapter's template, which it was not trained on"
        )
        print(f"warning: {message}", file=sys.stderr)
        notes.append(message)
        other_tok.chat_template = tokenizer.chat_template
    model = load_model(other, dtype=torch_dtype, device=dev).eval()
    stop = end_of_turn_ids(other_tok)
    loss = infer.nll(
        model,
        loss_rows(other_tok, cases, settings["max_tokens"]),
        None,
        other_tok.pad_token_id,
        batch_size,
        f"loss ({other.name})",
        progress=progress,
    )
    gens = infer.generate(
        model,
        prompt_ids(other_tok, cases, settings["max_tokens"]),
        None,
        other_tok,
        stop,
        settings["max_new_tokens"],
        settings["temperature"],
        settings["seed"],
        batch_size,
        1,
        progress,
    )
    if borrowed:
        gens = [_cut_at_turn_end(g, tokenizer) for g in gens]
    notes.append(
        f"{other.name}: loss is per token of its own tokenizer, so compare it with "
        "the others by the task metric rather than by loss"
    )
    return {
        other.name: {
            "loss": loss,
            "generations": gens,
            "general": None,
            "path": str(other.path),
            "template_borrowed": borrowed,
        }
    }


def _cut_at_turn_end(gen: infer.Generation, tokenizer) -> infer.Generation:
    """Cut where a borrowed template's markers begin (``<|im`` for ChatML).

    To the other base those markers are plain text, and a base model often
    writes near-misses ("<|im_end>") before inventing the next turn itself;
    the first four characters of a marker are where its answer ends.
    """
    text = gen.text
    for marker in template_markers(tokenizer):
        if marker[:4] in text:
            text = text.split(marker[:4])[0].strip()
    return infer.Generation(text, gen.tokens, gen.hit_max and text == gen.text)


def template_markers(tokenizer) -> list[str]:
    """Special tokens the chat template writes (end-of-turn, role headers)."""
    from lorakit.core.template import end_of_turn_ids

    template = tokenizer.chat_template or ""
    specials = [t for t in tokenizer.all_special_tokens if t and t in template]
    ends = [tokenizer.convert_ids_to_tokens(i) for i in end_of_turn_ids(tokenizer)]
    return [m for m in dict.fromkeys(ends + specials) if len(m) >= 4]
