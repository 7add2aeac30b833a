"""Held-out rows as eval cases: the prompt, the reference answer, the tokens."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from lorakit.core.errors import LorakitError
from lorakit.core.template import render, render_text
from lorakit.data.io import load_examples


@dataclass
class Case:
    """One held-out example: everything before the last assistant turn is the prompt."""

    line: int | None
    prompt: list[dict]  # messages up to the reference turn
    reference: str  # the last assistant message
    conversation: list[dict]  # prompt + reference (what the loss is taken on)

    @property
    def prompt_text(self) -> str:
        """The last user message, for people reading the report."""
        users = [m["content"] for m in self.prompt if m["role"] == "user"]
        return users[-1] if users else self.prompt[-1]["content"]


def load_cases(path: str | Path, limit: int | None = None) -> list[Case]:
    """Read held-out JSONL (canonical chat rows) into cases."""
    examples = load_examples(path)
    if limit is not None:
        examples = examples[:limit]
    if not examples:
        raise LorakitError(
            "no rows to evaluate",
            path=path,
            fix="give a JSONL file with one chat example a line",
        )
    cases = []
    for example in examples:
        messages = example.to_chat()
        last = max(
            (i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None
        )
        if last is None or last == 0:
            raise LorakitError(
                "the row has no assistant answer after a prompt to compare against",
                path=path,
                line=example.line,
                fix=f"run `lorakit data check {path}`",
            )
        cases.append(
            Case(
                example.line,
                messages[:last],
                messages[last]["content"],
                messages[: last + 1],
            )
        )
    return cases


def loss_rows(
    tokenizer, cases: list[Case], max_tokens: int
) -> list[tuple[list[int], list[int]]]:
    """Token ids and labels (assistant turns only, as in training) per case."""
    rows = []
    for case in cases:
        rendered = render(tokenizer, case.conversation, max_tokens=max_tokens)
        rows.append((rendered.input_ids, rendered.labels))
    return rows


def prompt_ids(tokenizer, cases: list[Case], max_tokens: int) -> list[list[int]]:
    """The rendered prompt plus the template's assistant header, per case."""
    out = []
    for case in cases:
        text = render_text(tokenizer, case.prompt, add_generation_prompt=True)
        out.append(tokenizer(text, add_special_tokens=False)["input_ids"][-max_tokens:])
    return out


def general_rows(tokenizer) -> list[tuple[list[int], list[int]]]:
    """The shipped general-English paragraphs, every token labelled."""
    source = resources.files("lorakit") / "resources" / "general_text.jsonl"
    rows = []
    for line in source.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        ids = tokenizer(json.loads(line)["text"])["input_ids"]
        rows.append((ids, list(ids)))  # the first is never predicted
    return rows
