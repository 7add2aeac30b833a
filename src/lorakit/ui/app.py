"""Put the page's parts together: review session, registry, runs, comparer."""

from __future__ import annotations

from pathlib import Path

from lorakit.core.errors import LorakitError
from lorakit.ui.server import UIState


def build_state(data: Path | None = None, base: str | None = None,
                run_roots: list[Path] | None = None, new_version: bool = False,
                max_tokens: int = 2048, device: str = "auto", registry=None,
                token: str | None = None) -> UIState:
    """Everything ``lorakit ui`` serves; the Python entry point behind the command.

    ``base`` is only loaded when Compare first runs (and its tokenizer, when
    given, lets the too_long check count tokens); nothing heavy happens here.
    """
    from lorakit.adapters.registry import Registry
    from lorakit.core.home import runs_dir
    from lorakit.ui.compare import Comparer
    from lorakit.ui.review import ReviewSession, default_checker

    registry = registry if registry is not None else Registry()
    checker = default_checker(_tokenizer(base), max_tokens)
    comparer = Comparer(registry, base=base, device=device)
    state = UIState(registry=registry, comparer=comparer,
                    run_roots=[*(run_roots or []), runs_dir()],
                    checks_available=checker is not None)
    if token:
        state.token = token
    if data is not None:
        data = Path(data).expanduser()
        if not data.is_file():
            raise LorakitError("dataset not found" if not data.exists() else "not a file",
                               path=data, fix="pass a JSONL file with --data")
        state.review = ReviewSession(data, new_version=new_version, checker=checker)
    return state


def _tokenizer(base: str | None):
    """The base's tokenizer for the too_long check, only when --base was given."""
    if base is None:
        return None
    from lorakit.core.models import load_tokenizer, resolve_base

    return load_tokenizer(resolve_base(base))
