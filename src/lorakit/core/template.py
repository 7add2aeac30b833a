"""Chat template rendering and the loss mask: what a run trains on, exactly.

A conversation is rendered once through the tokenizer's own chat template.
The trained tokens are each assistant turn's content *and* its end-of-turn
token (so the model learns to stop), never the prompt, the system message or
the template's role headers. The mask is found by rendering growing prefixes
of the conversation and mapping their character spans onto the token offsets,
which works for any template whose renders are prefix-stable (ChatML, Llama 3,
Gemma, Mistral...); one that is not gets a clear error instead of a wrong mask.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from lorakit.core.errors import LorakitError

IGNORE = -100  # label value the loss skips


@dataclass
class Rendered:
    input_ids: list[int]
    labels: list[int]  # IGNORE where not trained
    n_tokens: int
    n_trained: int
    truncated_turns: int = 0  # assistant turns cut by the length limit
    turns: int = 0  # assistant turns in the conversation
    turns_ending_eot: int = 0  # trained assistant turns whose last trained token is end-of-turn
    spans: list[tuple[int, int]] = field(default_factory=list)  # trained token ranges


def end_of_turn_ids(tokenizer) -> set[int]:
    """Token ids that end an assistant turn for this tokenizer."""
    ids = set()
    for tok in ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", tokenizer.eos_token):
        if tok is None:
            continue
        tid = tokenizer.convert_tokens_to_ids(tok)
        if isinstance(tid, int) and tid != tokenizer.unk_token_id:
            ids.add(tid)
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def template_hash(tokenizer) -> str:
    """A hash of the chat template and the special tokens it relies on."""
    template = tokenizer.chat_template or ""
    if isinstance(template, dict):
        template = repr(sorted(template.items()))
    text = "\n".join([template, str(tokenizer.eos_token), str(tokenizer.bos_token)])
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def render_text(tokenizer, messages: list[dict], add_generation_prompt: bool = False) -> str:
    if not tokenizer.chat_template:
        raise LorakitError("the base's tokenizer has no chat template",
                           fix="use an instruct/chat base, or save a chat_template.jinja "
                               "in the base folder")
    return tokenizer.apply_chat_template(messages, tokenize=False,
                                         add_generation_prompt=add_generation_prompt)


def _assistant_spans(tokenizer, messages: list[dict], full: str) -> list[tuple[int, int]]:
    """Character spans of each assistant turn (content + end-of-turn) in ``full``."""
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = render_text(tokenizer, messages[:i], add_generation_prompt=True) if i else ""
        upto = render_text(tokenizer, messages[: i + 1])
        if not (full.startswith(upto) and upto.startswith(before)):
            raise LorakitError(
                "the chat template does not render conversations prefix-stably, so the "
                "assistant turns cannot be located for the loss mask",
                fix="use a base whose template renders each turn independently (ChatML, "
                    "Llama 3, Gemma), or supply a chat_template.jinja that does")
        spans.append((len(before), len(upto)))
    return spans


def render(tokenizer, messages: list[dict], max_tokens: int | None = None,
           eot_ids: set[int] | None = None) -> Rendered:
    """Tokenize one conversation and build its labels (assistant turns only)."""
    full = render_text(tokenizer, messages)
    spans = _assistant_spans(tokenizer, messages, full)
    enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    eot_ids = eot_ids if eot_ids is not None else end_of_turn_ids(tokenizer)

    # a token is trained when it starts inside an assistant span; each span is
    # then trimmed after its end-of-turn token (the template's trailing newline
    # is not something to learn)
    labels = [IGNORE] * len(ids)
    token_spans: list[tuple[int, int]] = []
    span_i = 0
    for start, end in spans:
        first = last = None
        for t in range(span_i, len(ids)):
            s = offsets[t][0]
            if s >= end:
                break
            if s >= start:
                first = t if first is None else first
                last = t
        if first is None:
            continue
        span_i = last + 1
        stop = last
        for t in range(first, last + 1):
            if ids[t] in eot_ids:
                stop = t
                break
        token_spans.append((first, stop + 1))

    limit = max_tokens if max_tokens is not None else len(ids)
    truncated = 0
    ending = 0
    for first, stop in token_spans:
        if stop > limit:
            truncated += 1
        for t in range(first, min(stop, limit)):
            labels[t] = ids[t]
        if stop <= limit and ids[stop - 1] in eot_ids:
            ending += 1
    ids, labels = ids[:limit], labels[:limit]
    n_trained = sum(1 for x in labels if x != IGNORE)
    return Rendered(ids, labels, len(ids), n_trained, truncated, len(spans), ending, token_spans)


def count_tokens(tokenizer, messages: list[dict]) -> int:
    """Length of the rendered conversation in tokens (no truncation)."""
    text = render_text(tokenizer, messages)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def show_mask(tokenizer, rendered: Rendered, trained: str = "\033[1;32m", reset: str = "\033[0m",
              plain: bool = False) -> str:
    """The rendered text with trained tokens marked (color, or [[...]] when plain)."""
    pieces = []
    active = False
    for tid, label in zip(rendered.input_ids, rendered.labels):
        on = label != IGNORE
        if on != active:
            pieces.append(("[[" if on else "]]") if plain else (trained if on else reset))
            active = on
        pieces.append(tokenizer.decode([tid]))
    if active:
        pieces.append("]]" if plain else reset)
    return "".join(pieces)
