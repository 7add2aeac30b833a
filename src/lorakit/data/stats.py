"""`lorakit data stats`: rows, tokens and roles, against the base's context.

Token counts come from rendering each conversation through the base's chat
template (what training sees). ``trained`` counts the tokens of assistant
contents alone, tokenized on their own: a close estimate of what the loss
is computed on (the template's end-of-turn tokens come on top).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lorakit.data.read import iter_rows
from lorakit.data.tokens import TokenCounter

BUCKETS = (64, 128, 256, 512, 1024, 2048, 4096, 8192)


@dataclass
class StatsReport:
    path: str
    rows: int = 0
    unusable: int = 0  # rows that do not parse as examples (see `data check`)
    roles: Counter = field(default_factory=Counter)  # messages per role
    turns: Counter = field(default_factory=Counter)  # assistant turns per row
    tokens: list[int] = field(default_factory=list)
    trained: list[int] = field(default_factory=list)
    max_tokens: int = 2048
    context: int | None = None  # the base's max_position_embeddings

    def to_dict(self) -> dict[str, Any]:
        toks = sorted(self.tokens)
        return {
            "path": self.path, "rows": self.rows, "usable_rows": len(toks),
            "unusable_rows": self.unusable, "messages_by_role": dict(self.roles),
            "assistant_turns": {str(k): v for k, v in sorted(self.turns.items())},
            "tokens": _describe(toks), "trained_tokens": _describe(sorted(self.trained)),
            "max_tokens": self.max_tokens, "context": self.context,
            "over_max_tokens": sum(1 for t in toks if t > self.max_tokens),
            "over_context": sum(1 for t in toks if self.context and t > self.context),
            "histogram": histogram(toks),
        }


def _describe(values: list[int]) -> dict[str, Any]:
    if not values:
        return {"total": 0, "mean": None, "p50": None, "p90": None, "p99": None, "max": None}

    def q(p: float) -> int:
        return values[min(len(values) - 1, int(p * len(values)))]

    return {"total": sum(values), "mean": round(sum(values) / len(values), 1),
            "p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": values[-1]}


def histogram(tokens: list[int]) -> list[dict[str, Any]]:
    """Rows per length bucket (upper bounds in tokens)."""
    out, lo = [], 0
    for hi in BUCKETS + (None,):
        n = sum(1 for t in tokens if t > lo and (hi is None or t <= hi))
        out.append({"up_to": hi, "rows": n})
        lo = hi or lo
    return out


def base_context(base_path: Path | None) -> int | None:
    """max_position_embeddings from the base's config.json, if it says."""
    if base_path is None:
        return None
    try:
        config = json.loads((Path(base_path) / "config.json").read_text())
    except (OSError, ValueError):
        return None
    value = config.get("max_position_embeddings") or config.get("text_config", {}).get(
        "max_position_embeddings")
    return int(value) if isinstance(value, int) else None


def stats_path(path: str | Path, tokenizer, max_tokens: int = 2048,
               context: int | None = None) -> StatsReport:
    """Describe a dataset; rows that do not parse are counted, not described."""
    counter = TokenCounter(tokenizer, max_tokens)
    report = StatsReport(str(path), max_tokens=max_tokens, context=context)
    for row in iter_rows(path):
        report.rows += 1
        if row.example is None:
            report.unusable += 1
            continue
        ex = row.example
        report.roles.update(m.role for m in ex.messages)
        report.turns[sum(1 for m in ex.messages if m.role == "assistant")] += 1
        try:
            report.tokens.append(_tokens(counter, ex))
        except Exception:  # noqa: BLE001 - the template refused the row; check says why
            report.unusable += 1
            continue
        answers = [m.content for m in ex.messages if m.role == "assistant"]
        report.trained.append(sum(len(tokenizer(a, add_special_tokens=False)["input_ids"])
                                  for a in answers if len(a) < 1_000_000))
    return report


def _tokens(counter: TokenCounter, example) -> int:
    # a row far over any limit (a 30 MB paste) is counted by its lower bound
    c = counter.count(example)
    return c.tokens if not c.exact and c.tokens > counter.max_tokens else \
        counter.count(example, exact=True).tokens
