"""Training: preflight, the LoRA loop, checkpoints and resume, metrics, the adapter folder."""
