"""Text reports a person reads: `data check`, `clean`, `import`, `split`, `stats`."""

from __future__ import annotations

from collections import defaultdict

from lorakit.core.example import CHECKS
from lorakit.data.check import SEVERITY, CheckReport


def _where(path: str, line: int | None) -> str:
    return f"{path}:{line}" if line else path


def check_text(report: CheckReport, limit: int = 20) -> str:
    """Findings grouped by check (errors first), each with its line, then a summary line."""
    groups = defaultdict(list)
    for f in report.findings:
        groups[f.check].append(f)
    order = sorted(groups, key=lambda c: (SEVERITY[c] != "error", list(CHECKS).index(c)))
    out = []
    for check in order:
        found = groups[check]
        rows = len({(f.path, f.line) for f in found})
        out.append(f"{check} ({SEVERITY[check]}, {rows} row{'s' if rows != 1 else ''}): "
                   f"{CHECKS[check]}")
        for f in found[: limit or None]:
            related = f"  [see {_where(f.related['path'], f.related['line'])}]" \
                if f.related else ""
            out.append(f"  {_where(f.path, f.line)}  {f.message}{related}")
        if limit and len(found) > limit:
            out.append(f"  ... and {len(found) - limit} more (--limit 0 or --format json "
                       "shows all)")
        out.append("")
    out.append(summary_line(report))
    return "\n".join(out)


def summary_line(report: CheckReport) -> str:
    s = report.summary
    rows = f"{report.rows} rows"
    if s.get("eval_path"):
        rows += f" + {s['eval_rows']} eval rows"
    verdict = "no errors" if not report.errors else \
        f"{report.errors} errors in {s['rows_with_errors']} rows"
    skipped = f" (skipped: {', '.join(s['skipped'])})" if s.get("skipped") else ""
    return f"{report.path}: {rows}, {verdict}, {report.warnings} warnings{skipped}"


def clean_text(d: dict) -> str:
    lines = [f"{d['path']}: {d['rows_in']} rows in = {d['kept']} kept + "
             f"{d['rejected']} rejected; {d['repaired']} repaired"]
    if d["repairs"]:
        lines.append("  repaired: " + ", ".join(f"{k} {v}" for k, v in d["repairs"].items()))
    if d["reject_reasons"]:
        lines.append("  rejected for: " + ", ".join(
            f"{k} {v}" for k, v in sorted(d["reject_reasons"].items(), key=lambda kv: -kv[1])))
    if d["kept_warnings"]:
        lines.append("  kept with warnings: " + ", ".join(
            f"{k} {v}" for k, v in d["kept_warnings"].items()) + " (see `data check`)")
    lines.append(f"  wrote {d['out']} and {d['rejects']} (each reject has its line and reasons)")
    return "\n".join(lines)


def import_text(d: dict, limit: int = 20) -> str:
    lines = [f"{d['src']} ({d['format']}): imported {d['imported']} of {d['rows_in']} records "
             f"into {d['out']}"]
    if d["failed"]:
        lines.append(f"{d['failed']} records could not be imported:")
        for f in d["findings"][: limit or None]:
            lines.append(f"  {_where(f['path'], f['line'])}  {f['check']}: {f['message']}")
        if limit and len(d["findings"]) > limit:
            lines.append(f"  ... and {len(d['findings']) - limit} more (--format json)")
    lines.append(f"next: lorakit data check {d['out']}")
    return "\n".join(lines)


def split_text(d: dict) -> str:
    return (f"{d['path']}: {d['rows']} rows -> {d['train']} train ({d['train_out']}) + "
            f"{d['eval']} eval ({d['eval_out']}), seed {d['seed']}; {d['groups']} groups, "
            f"{d['grouped_rows']} rows kept beside their near-duplicates")


def stats_text(d: dict) -> str:
    t, tr = d["tokens"], d["trained_tokens"]
    lines = [f"{d['path']}: {d['rows']} rows ({d['unusable_rows']} unusable)",
             "  messages by role: " + ", ".join(f"{k} {v}" for k, v in
                                                d["messages_by_role"].items()),
             "  assistant turns per row: " + ", ".join(f"{k}: {v}" for k, v in
                                                       d["assistant_turns"].items())]
    if t["total"]:
        lines.append(f"  tokens per row: mean {t['mean']}, p50 {t['p50']}, p90 {t['p90']}, "
                     f"p99 {t['p99']}, max {t['max']}; total {t['total']}")
        lines.append(f"  trained (assistant) tokens: total {tr['total']}, mean {tr['mean']}")
    ctx = f", base context {d['context']}" if d["context"] else ""
    lines.append(f"  length limit {d['max_tokens']}{ctx}: {d['over_max_tokens']} rows over "
                 f"the limit" + (f", {d['over_context']} over the context" if d["context"]
                                 else ""))
    lines.append("  length histogram (tokens):")
    top = max((b["rows"] for b in d["histogram"]), default=0) or 1
    lo = 0
    for b in d["histogram"]:
        label = f"{lo + 1}-{b['up_to']}" if b["up_to"] else f">{lo}"
        mark = " <- limit" if b["up_to"] == d["max_tokens"] else ""
        lines.append(f"    {label:>11} {'#' * round(40 * b['rows'] / top):<40} {b['rows']}{mark}")
        lo = b["up_to"] or lo
    return "\n".join(lines)
