"""Per-request generation settings, token sampling and stop handling."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class GenParams:
    """What one request asked for (OpenAI names and defaults)."""

    max_tokens: int = 128
    temperature: float = 1.0  # 0 = greedy
    top_p: float = 1.0
    stop: list[str] = field(default_factory=list)
    seed: int | None = None

    def generator(self) -> torch.Generator | None:
        if self.temperature <= 0:
            return None
        gen = torch.Generator()
        if self.seed is None:
            gen.seed()
        else:
            gen.manual_seed(self.seed)
        return gen


def sample_rows(logits: torch.Tensor, params: list[GenParams],
                gens: list[torch.Generator | None]) -> list[int]:
    """One next token per row: argmax for greedy rows, top-p sampling for the rest."""
    greedy = logits.argmax(dim=-1).tolist()
    out = []
    for i, p in enumerate(params):
        out.append(greedy[i] if p.temperature <= 0 else _sample(logits[i], p, gens[i]))
    return out


def _sample(row: torch.Tensor, p: GenParams, gen: torch.Generator | None) -> int:
    probs = torch.softmax(row.float().cpu() / p.temperature, dim=-1)  # generators live on the CPU
    if p.top_p < 1.0:
        # nucleus: keep the smallest set of tokens whose probability reaches top_p
        sorted_p, order = probs.sort(descending=True)
        cum = sorted_p.cumsum(-1)
        sorted_p[(cum - sorted_p) > p.top_p] = 0.0
        probs = torch.zeros_like(probs).scatter_(0, order, sorted_p)
    return int(torch.multinomial(probs / probs.sum(), 1, generator=gen).item())


def split_stop(text: str, stops: list[str]) -> tuple[str, bool, int]:
    """(text cut at the first stop string, whether one was found, chars safe to emit).

    The safe length holds back a tail that could still grow into a stop string,
    and an incomplete UTF-8 character (the tokenizer's U+FFFD), so a stream
    never shows text it must take back.
    """
    hits = [text.find(s) for s in stops if s and s in text]
    if hits:
        cut = min(hits)
        return text[:cut], True, cut
    safe = len(text)
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:k]):
                safe = min(safe, len(text) - k)
                break
    while safe > 0 and text[safe - 1] == "\ufffd":
        safe -= 1
    return text, False, safe
