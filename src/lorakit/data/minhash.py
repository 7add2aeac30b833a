"""MinHash signatures for a whole chunk of sets at once, and a banded LSH index.

The scheme is datasketch's ``affine32`` (its permutations are taken from a
datasketch ``MinHash``, and tests/test_data_dedup.py checks the signatures are
equal to datasketch's own). Why not call datasketch per row: profiling
`data check` on 100k rows (benchmarks/dedup_bench.py) showed its per-set
Python overhead (``update_batch``, ``LeanMinHash``, and ``MinHashLSH``'s
insert/query with byte-swapping and storage layers) was about half of the
check's CPU time. Here one numpy pass signs every set of a chunk, and the LSH
is the textbook banding: a few dict lookups per row.
"""

from __future__ import annotations

import numpy as np
from datasketch import MinHash

# MurmurHash3's 32-bit finalizer, as datasketch pre-mixes each input hash
_FMIX = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35),
         np.uint32(16))
EMPTY = np.uint32(0xFFFFFFFF)


def fmix32(hv: np.ndarray) -> np.ndarray:
    """MurmurHash3 finalizer over a uint32 array (wrapping multiplication is intended)."""
    s1, m1, s2, m2, s3 = _FMIX
    hv = hv ^ (hv >> s1)
    hv = hv * m1
    hv = hv ^ (hv >> s2)
    hv = hv * m2
    return hv ^ (hv >> s3)


class Signer:
    """Signs sets of uint32 hashes with ``num_perm`` affine32 permutations."""

    def __init__(self, num_perm: int = 32, seed: int = 1):
        a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
        self.a, self.b = a.astype(np.uint32), b.astype(np.uint32)
        self.num_perm = num_perm

    def sign(self, sets: list[np.ndarray]) -> list[np.ndarray | None]:
        """One signature (uint32[num_perm]) per set, None for an empty set."""
        sizes = np.fromiter((s.size for s in sets), dtype=np.int64, count=len(sets))
        full = np.flatnonzero(sizes)
        if full.size == 0:
            return [None] * len(sets)
        # all sets end to end: each permutation is one vector op, then a
        # segmented minimum (reduceat) gives every set's value at once
        hv = fmix32(np.concatenate([sets[i] for i in full]).astype(np.uint32, copy=False))
        starts = np.concatenate(([0], np.cumsum(sizes[full])[:-1]))
        sig = np.empty((full.size, self.num_perm), dtype=np.uint32)
        with np.errstate(over="ignore"):
            for k in range(self.num_perm):
                sig[:, k] = np.minimum.reduceat(hv * self.a[k] + self.b[k], starts)
        out: list[np.ndarray | None] = [None] * len(sets)
        for row, i in enumerate(full):
            out[i] = sig[row]
        return out


class BandIndex:
    """LSH over signatures: ``bands`` bands of ``num_perm / bands`` values each.

    Two sets become candidates when any band of their signatures is equal.
    With 32 permutations in 8 bands of 4 (the split datasketch's MinHashLSH
    picks for threshold 0.5), a pair at Jaccard 0.8 is a candidate with
    probability 1 - (1 - 0.8**4)**8 = 98.5%.
    """

    def __init__(self, num_perm: int = 32, bands: int = 8):
        self.width = num_perm // bands * 4  # bytes per band
        self.tables: list[dict[bytes, list[int]]] = [{} for _ in range(bands)]

    def keys(self, sig: np.ndarray) -> list[bytes]:
        """The band keys of a signature (computed once per row, in the worker)."""
        raw, w = sig.tobytes(), self.width
        return [raw[i * w:(i + 1) * w] for i in range(len(self.tables))]

    def insert(self, key: int, band_keys: list[bytes]) -> None:
        for table, k in zip(self.tables, band_keys):
            table.setdefault(k, []).append(key)

    def query(self, band_keys: list[bytes]) -> set[int]:
        found: set[int] = set()
        for table, k in zip(self.tables, band_keys):
            hit = table.get(k)
            if hit:
                found.update(hit)
        return found
