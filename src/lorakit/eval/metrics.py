"""Task metrics on generated text: exact match, ROUGE-L, length and format.

Every metric is computed per example (so the report can show deltas) and
then averaged. ``choose_metric`` picks the headline metric from the
references when the user asks for ``auto``: short answers are judged by
exact match, longer ones by ROUGE-L.
"""

from __future__ import annotations

import json
import re
import statistics
import string
from functools import lru_cache
from typing import Any

# `--metric auto`: a median reference of at most this many words is a label
# or an extracted value (exact match); anything longer is free text (ROUGE-L).
SHORT_ANSWER_WORDS = 5
# a generation "has the right length" within this factor of its reference
LENGTH_FACTOR = 2.0
METRICS = ("exact_match", "rouge_l")


def normalize(text: str) -> str:
    """Casefold, drop surrounding punctuation and collapse whitespace."""
    text = " ".join(text.split()).casefold()
    return text.strip(string.punctuation + " ")


def _as_json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def exact_match(prediction: str, reference: str) -> float:
    """1.0 when the two agree after normalization (JSON compared as values)."""
    ref_json = _as_json(reference.strip())
    if isinstance(ref_json, (dict, list)):
        return float(_as_json(prediction.strip()) == ref_json)
    return float(normalize(prediction) == normalize(reference))


@lru_cache(maxsize=1)
def _scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F1 (longest common subsequence of stemmed words)."""
    if not prediction.strip() or not reference.strip():
        return float(prediction.strip() == reference.strip())
    return _scorer().score(reference, prediction)["rougeL"].fmeasure


def length_ok(prediction: str, reference: str) -> float:
    """1.0 when the word count is within LENGTH_FACTOR of the reference's."""
    got, want = len(prediction.split()), max(len(reference.split()), 1)
    return float(want / LENGTH_FACTOR <= got <= want * LENGTH_FACTOR + 2)


def format_kind(text: str) -> str:
    """The shape of an answer: json, one line, a list, or prose."""
    stripped = text.strip()
    if isinstance(_as_json(stripped), (dict, list)):
        return "json"
    lines = [line for line in stripped.splitlines() if line.strip()]
    if len(lines) > 1 and all(re.match(r"\s*([-*•]|\d+[.)])\s", line) for line in lines):
        return "list"
    return "line" if len(lines) <= 1 else "prose"


def format_ok(prediction: str, reference: str) -> float:
    """1.0 when the output is non-empty and has the reference's shape."""
    if not prediction.strip():
        return 0.0
    want, got = format_kind(reference), format_kind(prediction)
    if want in ("json", "list"):
        return float(got == want)
    return float(got in ("line", "prose"))


def choose_metric(references: list[str], metric: str = "auto") -> str:
    """The headline metric: ``metric`` itself, or the rule for ``auto``."""
    if metric != "auto":
        return metric
    if not references:
        return "exact_match"
    words = statistics.median(len(r.split()) for r in references)
    structured = all(format_kind(r) == "json" for r in references)
    return "exact_match" if structured or words <= SHORT_ANSWER_WORDS else "rouge_l"


def score(prediction: str, reference: str) -> dict[str, float]:
    """Every per-example metric for one output."""
    return {
        "exact_match": exact_match(prediction, reference),
        "rouge_l": rouge_l(prediction, reference),
        "length_ok": length_ok(prediction, reference),
        "format_ok": format_ok(prediction, reference),
    }


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None
