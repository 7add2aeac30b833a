"""The HTML report: one self-contained page (no network), plots as inline SVG.

It shows the metrics table, the flags, the training loss curves read from
each adapter's ``metrics.jsonl``, per-example deltas against the base, and
every output side by side with the reference.
"""

from __future__ import annotations

import html
import io
import json
from pathlib import Path
from string import Template
from typing import Any

from lorakit.core.io import atomic_write_text

COLUMNS = [
    ("loss", "held-out loss"),
    ("score", "task metric"),
    ("exact_match", "exact match"),
    ("rouge_l", "ROUGE-L"),
    ("length_ok", "length ok"),
    ("format_ok", "format ok"),
    ("same_as_base", "same as base"),
    ("general_loss", "general-text loss"),
    ("forgetting", "forgetting"),
]


def models_of(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every evaluated model's summary, base first, in a stable order."""
    models = {"base": result["base"]}
    if "adapter" in result:
        models[result["adapter"]["name"]] = result["adapter"]
    models.update(result.get("adapters", {}))
    models.update({f"{k} (base)": v for k, v in result.get("also_base", {}).items()})
    return models


def outputs_of(row: dict[str, Any], result: dict[str, Any]) -> dict[str, str]:
    """One example's output per model, named as in ``models_of``."""
    out = {"base": row["base"]}
    if "adapter" in row:
        out[result["adapter"]["name"]] = row["adapter"]
    out.update(row.get("adapters", {}))
    out.update({f"{k} (base)": v for k, v in row.get("also_base", {}).items()})
    return out


PERCENT = ("same_as_base", "forgetting", "length_ok", "format_ok", "exact_match")


def _cell(value: Any, key: str) -> str:
    if value is None:
        return '<td class="num">–</td>'
    if key in PERCENT:
        return f'<td class="num">{value:.1%}</td>'
    return f'<td class="num">{value:.4f}</td>'


def metrics_table(result: dict[str, Any]) -> str:
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in COLUMNS)
    rows = [f"<tr><th>model</th>{head}</tr>"]
    for name, summary in models_of(result).items():
        cells = "".join(
            _cell(summary.get(key), summary.get("metric", "") if key == "score" else key)
            for key, _ in COLUMNS
        )
        rows.append(f"<tr><td>{html.escape(name)}</td>{cells}</tr>")
    return "\n".join(rows)


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and doctype


def _read_metrics(folder: str | None) -> list[dict[str, Any]]:
    path = Path(folder or "") / "metrics.jsonl"
    rows = []
    if folder and path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue  # a half-written last line of a live run
    return rows


def training_plot(result: dict[str, Any]) -> str:
    """Loss (and eval loss) against step for every adapter with a metrics.jsonl."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.2))
    drawn = 0
    for name, summary in models_of(result).items():
        rows = _read_metrics(summary.get("path") if name != "base" else None)
        steps = [(r["step"], r["loss"]) for r in rows if "loss" in r and "step" in r]
        evals = [
            (r["step"], r["eval_loss"]) for r in rows if r.get("eval_loss") is not None
        ]
        if steps:
            (line,) = ax.plot(*zip(*steps), label=f"{name} train")
            drawn += 1
            if evals:
                ax.plot(*zip(*evals), "o--", color=line.get_color(), label=f"{name} eval")
    if not drawn:
        plt.close(fig)
        return '<p class="meta">No metrics.jsonl in the adapter folders.</p>'
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    svg = _svg(fig)
    plt.close(fig)
    return svg


def _deltas(examples: list[dict], field: str, name: str) -> list[float]:
    """Per-example ``field`` of model ``name`` minus the base's (a missing value counts 0)."""
    return [(row[field].get(name) or 0) - (row[field].get("base") or 0) for row in examples]


def delta_plot(result: dict[str, Any]) -> str:
    """Per-example task-metric and loss differences (model minus base)."""
    import matplotlib.pyplot as plt

    examples = result["examples"]
    names = [n for n in models_of(result) if n != "base" and not n.endswith(" (base)")]
    if not names or not examples:
        return '<p class="meta">No adapters: nothing to compare with the base.</p>'
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 4.6), sharex=True)
    width = 0.8 / len(names)
    index = range(len(examples))
    for j, name in enumerate(names):
        score, loss = _deltas(examples, "scores", name), _deltas(examples, "loss", name)
        shift = [i + (j - (len(names) - 1) / 2) * width for i in index]
        top.bar(shift, score, width, label=name)
        bottom.bar(shift, loss, width, label=name)
    top.set_ylabel(f"Δ {result['metric']}")
    bottom.set_ylabel("Δ loss (lower is better)")
    bottom.set_xlabel("example (row order)")
    for ax in (top, bottom):
        ax.axhline(0, color="#555", lw=0.8)
        ax.grid(alpha=0.3, axis="y")
    top.legend(fontsize=8)
    svg = _svg(fig)
    plt.close(fig)
    return svg


def outputs_table(result: dict[str, Any]) -> str:
    rows = result["examples"]
    if not rows:
        return ""
    names = list(outputs_of(rows[0], result))
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    out = [f"<tr><th>line</th><th>prompt</th><th>reference</th>{head}</tr>"]
    for row in rows:
        texts = outputs_of(row, result)
        cells = []
        for name in names:
            key = name.removesuffix(" (base)")
            score = row["scores"].get(key)
            same = name != "base" and texts[name] == row["base"]
            note = f"{result['metric']} {score:.2f}" if score is not None else ""
            note += ' <span class="same">(= base)</span>' if same else ""
            shown = html.escape(texts[name]) or '<i class="same">(empty)</i>'
            cells.append(f'<td>{shown}<span class="score">{note}</span></td>')
        out.append(
            f"<tr><td>{row.get('line') or ''}</td><td>{html.escape(row['prompt'])}</td>"
            f"<td>{html.escape(row['reference'])}</td>{''.join(cells)}</tr>"
        )
    return "\n".join(out)


def _flags(result: dict[str, Any]) -> str:
    if not result["flags"]:
        return '<p class="meta">No flags.</p>'
    return "\n".join(
        f'<div class="flag {html.escape(f["severity"])}"><b>'
        f"{html.escape(f['model'])}</b> · {html.escape(f['check'])}: "
        f"{html.escape(f['message'])}</div>"
        for f in result["flags"]
    )


def render_report(result: dict[str, Any]) -> str:
    """The report page as one HTML string."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: smaller, searchable
    template = Template(
        (Path(__file__).with_name("report.html")).read_text(encoding="utf-8")
    )
    data, settings = result.get("data", {}), result.get("settings", {})
    title = ", ".join(n for n in models_of(result) if n != "base") or result["base"]["name"]
    meta = (
        f"base {result['base'].get('name')} · data {data.get('path')} ({data.get('rows')} "
        f"rows) · {settings.get('max_new_tokens')} new tokens max · temperature "
        f"{settings.get('temperature')} · {settings.get('device')}/{settings.get('dtype')}"
        f" · {result.get('seconds')} s"
    )
    legend = (
        f"task metric = {result['metric']} (see docs/eval.md for how auto picks it); "
        "loss = mean per-token negative log-likelihood of the reference answers; "
        "forgetting = relative rise of loss on lorakit's general-text set."
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.get("notes", []))
    return template.substitute(
        title=html.escape(title),
        meta=html.escape(meta),
        flags=_flags(result),
        metrics=metrics_table(result),
        legend=html.escape(legend),
        training_plot=training_plot(result),
        delta_plot=delta_plot(result),
        outputs=outputs_table(result),
        notes=f'<h2>Notes</h2><ul id="notes">{notes}</ul>' if notes else "",
    )


def write_report(result: dict[str, Any], out: str | Path) -> Path:
    """Write the report page atomically; returns its path."""
    out = Path(out)
    atomic_write_text(out, render_report(result))
    return out
