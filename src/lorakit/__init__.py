"""lorakit: turn a small open base model into an in-house specialist.

The loop, one subpackage a stage: ``data`` (curate) -> ``train`` (LoRA) ->
``eval`` (base against adapter) -> ``adapters`` (registry) -> ``serve``.
``core`` holds the types and helpers they all stand on.
"""

import os as _os

# OpenMP reads this once, when torch first loads; with both cores busy its
# default spin-waits collapse throughput. Set before any torch import.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
_os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

__version__ = "0.1.0"
