"""Token counts of rendered conversations, through the base's own chat template.

Counting a 30 MB row exactly would take the tokenizer many seconds for a
verdict that is already certain, so two exact bounds settle most rows first:
a conversation of B UTF-8 bytes has at most B + 1 tokens (every token of a
byte-level or byte-fallback vocabulary covers at least one byte) and at least
B / L tokens, L being the most bytes any one token of the vocabulary covers.
"""

from __future__ import annotations

from dataclasses import dataclass

from lorakit.core.example import Example
from lorakit.core.template import count_tokens, render_text


@dataclass
class Count:
    tokens: int  # exact count, or the lower bound when ``exact`` is False
    exact: bool


class TokenCounter:
    """Counts tokens of examples for one tokenizer, with the shortcut bounds."""

    def __init__(self, tokenizer, max_tokens: int = 2048):
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        vocab = tokenizer.get_vocab()
        self.max_cover = max((len(t.encode("utf-8")) for t in vocab), default=1) or 1

    def render(self, example: Example) -> str:
        return render_text(self.tokenizer, example.to_chat())

    def count(self, example: Example, exact: bool = False) -> Count:
        """Tokens of the rendered example; a bound when it settles the limit and not ``exact``."""
        text = self.render(example)
        size = len(text.encode("utf-8"))
        if not exact and size + 1 <= self.max_tokens:
            return Count(size + 1, False)  # surely within the limit
        if not exact and size // self.max_cover > self.max_tokens:
            return Count(size // self.max_cover, False)  # surely over it
        return Count(count_tokens(self.tokenizer, example.to_chat()), True)

    def too_long(self, example: Example) -> Count | None:
        """The count when the example exceeds ``max_tokens``, else None."""
        c = self.count(example)
        return c if c.tokens > self.max_tokens else None
