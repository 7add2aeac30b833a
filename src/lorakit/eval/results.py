"""Turning raw runs into the result: per-model metrics, per-example rows, flags.

The shape (what ``--format json`` prints)::

    {"metric": "rouge_l",
     "base": {"loss", "exact_match", "rouge_l", "length_ok", "format_ok", ...},
     "adapter": {...}            # or "adapters": {name: {...}} for several
     "also_base": {name: {...}}  # with --also-base
     "examples": [{"prompt", "reference", "base", "adapter" (or "adapters"), ...}],
     "flags": [{"model", "check", "severity", "message"}], ...}
"""

from __future__ import annotations

from typing import Any

from lorakit.eval import metrics
from lorakit.eval.cases import Case
from lorakit.eval.targets import Target, zero_lora_b

# an adapter whose outputs equal the base's on at least this share of rows
# changed (almost) nothing, whatever its loss says
UNCHANGED_SHARE = 0.9


def _loss(pairs: list[tuple[float, int]]) -> tuple[float | None, int]:
    """Mean per-token NLL over every labelled token of every row."""
    total = sum(s for s, n in pairs if n)
    count = sum(n for _, n in pairs)
    return (total / count if count else None), count


def summarize(run: dict[str, Any], cases: list[Case], chosen: str) -> dict[str, Any]:
    """The metrics of one model over all cases."""
    gens = run["generations"]
    scores = [metrics.score(g.text, c.reference) for g, c in zip(gens, cases)]
    loss, tokens = _loss(run["loss"])
    out: dict[str, Any] = {"loss": loss, "loss_tokens": tokens}
    for key in ("exact_match", "rouge_l", "length_ok", "format_ok"):
        out[key] = metrics.mean([s[key] for s in scores])
    out["metric"] = chosen
    out["score"] = out.get(chosen) if chosen in metrics.METRICS else None
    out["hit_max_tokens"] = metrics.mean([float(g.hit_max) for g in gens])
    out["general_loss"] = _loss(run["general"])[0] if run.get("general") else None
    return out


def _same_share(gens, base_gens) -> float:
    same = [float(a.text == b.text) for a, b in zip(gens, base_gens)]
    return metrics.mean(same) or 0.0


def build_results(
    base_model,
    targets: list[Target],
    cases: list[Case],
    runs: dict[str, Any],
    others: dict[str, Any],
    settings: dict[str, Any],
    notes: list[str],
) -> dict[str, Any]:
    """The whole JSON result (see the module docstring)."""
    chosen = metrics.choose_metric([c.reference for c in cases], settings["metric"])
    base = summarize(runs["base"], cases, chosen)
    base.update({"name": base_model.name, "path": str(base_model.path)})
    adapters = {}
    for target in targets:
        summary = summarize(runs[target.name], cases, chosen)
        summary["same_as_base"] = _same_share(
            runs[target.name]["generations"], runs["base"]["generations"]
        )
        general, base_general = summary.get("general_loss"), base.get("general_loss")
        summary["forgetting"] = (
            (general - base_general) / base_general
            if general is not None and base_general
            else None
        )
        summary["path"] = str(target.folder)
        adapters[target.name] = summary
    also = {}
    for name, run in others.items():
        also[name] = summarize(run, cases, chosen)
        also[name].update(
            {"path": run["path"], "template_borrowed": run["template_borrowed"]}
        )

    result: dict[str, Any] = {"metric": chosen, "base": base}
    if len(adapters) == 1:
        result["adapter"] = next(iter(adapters.values())) | {"name": targets[0].name}
    elif adapters:
        result["adapters"] = adapters
    if also:
        result["also_base"] = also
    result["examples"] = _examples(cases, runs, others, targets, chosen)
    result["flags"] = flags(base, adapters, also, targets, settings)
    result["notes"] = notes
    result["settings"] = settings
    return result


def _examples(cases, runs, others, targets, chosen) -> list[dict[str, Any]]:
    """Side-by-side outputs with each model's per-example score and loss."""
    rows = []
    models = {"base": runs["base"], **{t.name: runs[t.name] for t in targets}, **others}
    for i, case in enumerate(cases):
        outputs = {name: run["generations"][i].text for name, run in models.items()}
        row: dict[str, Any] = {
            "line": case.line,
            "prompt": case.prompt_text,
            "reference": case.reference,
            "base": outputs["base"],
        }
        if len(targets) == 1:
            row["adapter"] = outputs[targets[0].name]
        elif targets:
            row["adapters"] = {t.name: outputs[t.name] for t in targets}
        if others:
            row["also_base"] = {name: outputs[name] for name in others}
        row["scores"] = {
            name: metrics.score(text, case.reference).get(chosen)
            for name, text in outputs.items()
        }
        row["loss"] = {name: _loss([run["loss"][i]])[0] for name, run in models.items()}
        rows.append(row)
    return rows


def flags(
    base: dict,
    adapters: dict[str, dict],
    also: dict[str, dict],
    targets: list[Target],
    settings: dict[str, Any],
) -> list[dict[str, Any]]:
    """Problems worth a person's attention, one dict each."""
    found = []

    def flag(model: str, check: str, severity: str, message: str) -> None:
        found.append(
            {"model": model, "check": check, "severity": severity, "message": message}
        )

    threshold = settings["forgetting_threshold"]
    for target in targets:
        name, a = target.name, adapters[target.name]
        if a["same_as_base"] >= UNCHANGED_SHARE:
            why = []
            if zero_lora_b(target.folder):
                why.append("every lora_B weight is zero: the adapter was never trained")
            if a["loss"] is not None and abs(a["loss"] - base["loss"]) < 1e-6:
                why.append("its held-out loss equals the base's")
            flag(
                name,
                "unchanged",
                "error",
                f"{a['same_as_base']:.0%} of its outputs are identical to the base's"
                + ("; " + "; ".join(why) if why else ""),
            )
        if a.get("forgetting") is not None and a["forgetting"] > threshold:
            flag(
                name,
                "forgetting",
                "warning",
                f"loss on general text rose {a['forgetting']:.1%} over the base "
                f"(threshold {threshold:.0%}): it may have forgotten general language",
            )
        if a["loss"] is not None and base["loss"] is not None and a["loss"] >= base["loss"]:
            flag(
                name,
                "no_gain",
                "warning",
                f"held-out loss {a['loss']:.3f} is not below the base's {base['loss']:.3f}",
            )
        if (
            a["score"] is not None
            and base["score"] is not None
            and a["score"] < base["score"]
        ):
            flag(
                name,
                "worse_metric",
                "warning",
                f"{a['metric']} {a['score']:.3f} is below the base's {base['score']:.3f}",
            )
        for other, o in also.items():
            if (
                o["score"] is not None
                and a["score"] is not None
                and o["score"] > a["score"]
            ):
                flag(
                    name,
                    "beaten_by_base",
                    "info",
                    f"{other} scores {o['score']:.3f} on {a['metric']}, above this "
                    f"adapter's {a['score']:.3f}",
                )
    return found
