"""Running models on rows: batched loss and batched generation.

Base and adapters run in one PEFT model: every batch mixes rows for the base
(``__base__``) and for each adapter through PEFT's per-row ``adapter_names``,
so one forward pass serves all of them. The rows of one example for every
model sit in the same batch with the same padding, which makes "the adapter
changed nothing" an exact comparison rather than a numerical guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm import tqdm

from lorakit.core.progress import rss_gb
from lorakit.core.template import IGNORE

BASE = "__base__"  # PEFT's name for "no adapter" in a mixed batch


@dataclass
class Generation:
    text: str
    tokens: int
    hit_max: bool  # stopped by max_new_tokens, not by an end-of-turn token


def _bar(total: int, desc: str, enabled: bool) -> tqdm:
    return tqdm(
        total=total,
        desc=desc,
        unit="row",
        disable=not enabled,
        leave=False,
        dynamic_ncols=True,
    )


def _postfix(bar: tqdm, tokens: int) -> None:
    rate = tokens / max(bar.format_dict["elapsed"], 1e-9)
    bar.set_postfix_str(f"{rate:.0f} tok/s, {rss_gb():.1f} GiB")


def _names_kwargs(model, names: list[str] | None) -> dict:
    """PEFT's per-row adapter choice; nothing for a plain model."""
    if names is None or not hasattr(model, "peft_config"):
        return {}
    return {"adapter_names": names}


# logits held at once in a loss batch (rows x length x vocabulary): about 1 GB
# in bf16, so a 262k-word vocabulary (Gemma) gets shorter batches than 49k
LOGITS_PER_BATCH = 2**29


def _step(batch_size: int, group: int, cap: int | None = None) -> int:
    """Rows per batch: a multiple of ``group``, at most ``cap`` rows when given."""
    if cap is not None:
        batch_size = min(batch_size, max(1, cap))
    return max(group, batch_size // group * group)


def _vocab(model) -> int:
    config = getattr(model, "config", None)
    return int(getattr(config, "vocab_size", None) or 65536)


@torch.inference_mode()
def nll(
    model,
    rows: list[tuple[list[int], list[int]]],
    names: list[str] | None,
    pad_id: int,
    batch_size: int = 8,
    desc: str = "loss",
    group: int = 1,
    progress: bool = True,
) -> list[tuple[float, int]]:
    """Summed negative log-likelihood and labelled-token count for each row."""
    device = next(model.parameters()).device
    out: list[tuple[float, int]] = []
    bar = _bar(len(rows), desc, progress)
    seen = 0
    width = max(len(ids) for ids, _ in rows)
    step = _step(batch_size, group, LOGITS_PER_BATCH // (_vocab(model) * width))
    for start in range(0, len(rows), step):
        chunk = rows[start : start + step]
        width = max(len(ids) for ids, _ in chunk)

        # right padding: padded positions are masked and never labelled
        ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        labels = torch.full((len(chunk), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for i, (row_ids, row_labels) in enumerate(chunk):
            ids[i, : len(row_ids)] = torch.tensor(row_ids)
            labels[i, : len(row_labels)] = torch.tensor(row_labels)
            mask[i, : len(row_ids)] = 1
        chunk_names = names[start : start + step] if names else None
        logits = model(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            **_names_kwargs(model, chunk_names),
        ).logits

        # token t predicts token t+1; only labelled positions are scored, in float32
        shifted = labels[:, 1:].to(device)
        keep = shifted != IGNORE
        losses = torch.nn.functional.cross_entropy(
            logits[:, :-1][keep].float(), shifted[keep], reduction="none"
        )
        rows_of = keep.nonzero()[:, 0]
        sums = torch.zeros(len(chunk), device=device).index_add_(0, rows_of, losses)
        out.extend(zip(sums.tolist(), keep.sum(dim=1).tolist()))
        seen += int(mask.sum())
        bar.update(len(chunk))
        _postfix(bar, seen)
    bar.close()
    return out


@torch.inference_mode()
def generate(
    model,
    prompts: list[list[int]],
    names: list[str] | None,
    tokenizer,
    stop_ids: set[int],
    max_new_tokens: int,
    temperature: float = 0.0,
    seed: int = 0,
    batch_size: int = 8,
    group: int = 1,
    progress: bool = True,
) -> list[Generation]:
    """Generate for each prompt (greedy unless temperature > 0, then seeded).

    ``group`` rows (one example's rows for every model) never straddle two
    batches, so they share padding.
    """
    from transformers import GenerationConfig

    device = next(model.parameters()).device
    pad_id = tokenizer.pad_token_id
    sample = temperature > 0
    config = GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=sample,
        temperature=temperature if sample else None,
        top_p=None,
        top_k=None,
        pad_token_id=pad_id,
        eos_token_id=sorted(stop_ids),
    )
    torch.manual_seed(seed)
    step = _step(batch_size, group)
    results: list[Generation] = []
    bar = _bar(len(prompts), "generate", progress)
    produced = 0
    for start in range(0, len(prompts), step):
        chunk = prompts[start : start + step]
        width = max(len(p) for p in chunk)

        # left padding, so every row's new tokens start at the same column
        ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for i, prompt in enumerate(chunk):
            ids[i, width - len(prompt) :] = torch.tensor(prompt)
            mask[i, width - len(prompt) :] = 1
        chunk_names = names[start : start + step] if names else None
        ticker = _Ticker(bar, produced, len(chunk), max_new_tokens)
        out = model.generate(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            generation_config=config,
            stopping_criteria=[ticker],
            **_names_kwargs(model, chunk_names),
        )
        for row in out[:, width:].tolist():
            results.append(_decode(row, tokenizer, stop_ids, pad_id, max_new_tokens))
            produced += results[-1].tokens
        bar.update(len(chunk))
        _postfix(bar, produced)
    bar.close()
    return results


class _Ticker:
    """A stopping criterion that never stops: it refreshes the bar every decode step."""

    def __init__(self, bar: tqdm, before: int, rows: int, limit: int):
        self.bar, self.before, self.rows, self.limit, self.steps = (
            bar,
            before,
            rows,
            limit,
            0,
        )

    def __call__(self, input_ids, scores, **kwargs):
        self.steps += 1
        if not self.bar.disable:
            rate = (self.before + self.steps * self.rows) / max(
                self.bar.format_dict["elapsed"], 1e-9
            )
            self.bar.set_postfix_str(
                f"step {self.steps}/{self.limit}, ~{rate:.0f} tok/s, {rss_gb():.1f} GiB"
            )
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


def _decode(
    row: list[int], tokenizer, stop_ids: set[int], pad_id: int, max_new_tokens: int
) -> Generation:
    """Cut a generated row at its first stop token and decode it."""
    for i, tid in enumerate(row):
        if tid in stop_ids:
            return Generation(
                tokenizer.decode(row[:i], skip_special_tokens=True).strip(), i, False
            )
    kept = [t for t in row if t != pad_id]
    return Generation(
        tokenizer.decode(kept, skip_special_tokens=True).strip(),
        len(kept),
        len(row) >= max_new_tokens,
    )
