"""The pieces of one training step: the PEFT model, the masked loss, eval, the lr schedule."""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F

from lorakit.core.config import Config
from lorakit.core.template import IGNORE, Rendered
from lorakit.train import batching
from lorakit.train.distributed import Dist

MICRO_PADDED = 4096  # padded tokens per forward pass; bounds activation memory


def build_model(cfg: Config, base, dtype: torch.dtype, device: torch.device):
    """The base (frozen, in ``dtype``) wrapped by PEFT with fp32 LoRA weights on all linears."""
    from peft import LoraConfig, get_peft_model

    from lorakit.core.models import load_model

    model = load_model(base, dtype=dtype, device=device,
                       trust_remote_code=cfg.train.trust_remote_code)
    model.config.use_cache = False
    lora = LoraConfig(r=cfg.lora.rank, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                      target_modules=cfg.lora.target_modules, task_type="CAUSAL_LM")
    # the same seed on every rank and every resume: identical LoRA initialisation
    torch.manual_seed(cfg.train.seed)
    # LoRA weights in the base's dtype on CPU: measured 1.5x faster and 30% less
    # memory than fp32 LoRA on a bf16 base (the fp32 path casts every input of
    # every adapted layer); fp32 LoRA (PEFT's autocast) where asked or on GPUs
    fp32_lora = cfg.train.lora_dtype == "float32" or (
        cfg.train.lora_dtype == "auto" and device.type != "cpu")
    with warnings.catch_warnings():  # PEFT calls a transformers API deprecated in v5
        warnings.filterwarnings("ignore", category=FutureWarning)
        peft_model = get_peft_model(model, lora, autocast_adapter_dtype=fp32_lora)
    if cfg.train.compile:
        inner = peft_model.get_base_model()
        inner.model = torch.compile(inner.model, dynamic=True)
    return peft_model


def _parts(model):
    inner = model.get_base_model()
    return inner.model, inner.get_output_embeddings(), getattr(
        inner.config, "final_logit_softcapping", None)


def masked_loss_sum(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Summed cross-entropy over trained tokens, and how many there were.

    The vocabulary projection runs only on positions that are trained: for
    a 49k vocabulary that is most of the memory of a step, and the prompt's
    logits would be thrown away anyway.
    """
    decoder, head, softcap = _parts(model)
    hidden = decoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                     use_cache=False).last_hidden_state
    targets = batch["labels"][:, 1:]
    keep = targets != IGNORE
    logits = head(hidden[:, :-1][keep]).float()
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    loss = F.cross_entropy(logits, targets[keep], reduction="sum")
    return loss, int(keep.sum())


def train_step(model, rendered: list[Rendered], rows: list[int], n_trained: int,
               pad_id: int, device: torch.device) -> float:
    """Forward and backward over this rank's rows; returns its summed loss.

    Each micro-batch's loss is divided by the trained tokens of the whole
    global step, so accumulation and data parallelism give the mean over
    every trained token of the step, whatever the split.
    """
    total = 0.0
    for group in batching.micro_batches(rendered, rows, MICRO_PADDED):
        batch = {k: v.to(device) for k, v in batching.collate(rendered, group, pad_id).items()}
        loss, _ = masked_loss_sum(model, batch)
        (loss / n_trained).backward()
        total += float(loss.detach())
    return total


@torch.no_grad()
def evaluate(model, rendered: list[Rendered], pad_id: int, device: torch.device,
             dist: Dist) -> float | None:
    """Mean loss per trained token over the eval rows (every rank its share)."""
    rows = batching.usable(rendered)
    if not rows:
        return None
    was_training = model.training
    model.eval()
    sums = torch.zeros(2, dtype=torch.float64)
    for group in batching.micro_batches(rendered, rows[dist.rank::dist.world], MICRO_PADDED):
        batch = {k: v.to(device) for k, v in batching.collate(rendered, group, pad_id).items()}
        loss, n = masked_loss_sum(model, batch)
        sums += torch.tensor([float(loss), n], dtype=torch.float64)
    dist.sum_(sums)
    model.train(was_training)
    return float(sums[0] / sums[1]) if sums[1] else None


def lr_at(step: int, total: int, cfg: Config) -> float:
    """Linear warmup, then cosine decay to a tenth of the peak (a function of the step only)."""
    peak, warm = cfg.train.lr, min(cfg.train.warmup_steps, max(total - 1, 0))
    if step < warm:
        return peak * (step + 1) / (warm + 1)
    progress = (step - warm) / max(total - warm, 1)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def step_seed(seed: int, step: int, rank: int) -> int:
    """The RNG seed of one step (LoRA dropout): resume needs no saved RNG state."""
    return (seed * 1_000_003 + step * 7919 + rank) % (2**63)
