"""Curating data: readers per format, checks, cleaning, dedup, split, stats."""

from lorakit.data.io import load_examples

__all__ = ["load_examples"]
