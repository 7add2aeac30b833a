"""Exact duplicates, near-duplicates and conflicting answers, in one streaming pass.

Rows are compared in file order against the rows indexed before them, so the
later row of a pair carries the finding and names the earlier one. Three
views of each example are compared:

* the whole conversation without its system message (exact hash, then
  near-duplicate by MinHash LSH (datasketch's scheme, minhash.py), verified by
  exact Jaccard);
* the prompt: every non-system message before the last assistant turn;
* the answer: the last assistant turn.

Two rows with the same system message and the same or nearly the same prompt
(Jaccard >= ``prompt_threshold``) whose answers are dissimilar (Jaccard <
``agree_threshold``) have *conflicting answers*. Text is compared as sets of
word unigrams and bigrams (lower-cased), which is robust for short prompts
and cheap enough for 100k rows (see benchmarks/dedup_bench.py).
"""

from __future__ import annotations

import hashlib
import re
import string
import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from lorakit.core.example import Example
from lorakit.data.minhash import BandIndex, Signer

CONTRACTION = re.compile(r"(?<=[a-z])'(s|re|m|ll|ve|d|t)\b")
EXPANDED = {"s": " is", "re": " are", "m": " am", "ll": " will", "ve": " have", "d": " would",
            "t": " not"}
NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_PUNCT = str.maketrans({c: " " for c in string.punctuation})
MAX_WORDS = 5000  # a longer text is compared on its first words only
# 32 permutations in 8 bands of 4: a pair at Jaccard 0.8 becomes a candidate
# 98.5% of the time (0.85: 99.7%), while a pair at 0.3 does 6% of the time;
# candidates are then verified by exact Jaccard, so the LSH threshold sits
# well below the verified one
NUM_PERM = 32
BANDS = 8
_MIX = np.uint32(0x9E3779B1)


@lru_cache(maxsize=1 << 20)
def _word_hash(word: str) -> int:
    # crc32 is stable across processes (unlike hash()), so results repeat run
    # to run; the cache makes the common words of a dataset free
    return zlib.crc32(word.encode())


def normalize(text: str) -> str:
    """Lower-case, contractions spelt out ("what's" -> "what is"), ASCII punctuation blanked."""
    text = text.lower()
    if "'" in text or "\u2019" in text:
        text = text.replace("\u2019", "'").replace("can't", "can not").replace("won't", "will not")
        text = CONTRACTION.sub(lambda m: EXPANDED[m.group(1)], text.replace("n't", " not"))
    return text.translate(_PUNCT)


def word_hashes(text: str) -> np.ndarray:
    """uint32 hashes of the lower-cased words of ``text``, in order.

    Words are split on whitespace after ASCII punctuation is blanked out
    (several times faster than a ``\\w+`` regex over 100k rows).
    """
    words = normalize(text[: MAX_WORDS * 12]).split()[:MAX_WORDS]
    return np.fromiter(map(_word_hash, words), dtype=np.uint32, count=len(words))


def shingle_set(parts: list[np.ndarray], unigrams: bool = True,
                unique: bool = True) -> np.ndarray:
    """Hashes of the bigrams (and unigrams) within each part; sorted unique if ``unique``.

    A one-word part always contributes its word, so short texts still compare.
    Repeats do not change a MinHash, so the index keeps them and ``jaccard``
    de-duplicates the few pairs it verifies.
    """
    pieces = []
    for h in parts:
        if h.size:
            if unigrams or h.size == 1:
                pieces.append(h)
            pieces.append((h[:-1] * _MIX) ^ h[1:])  # array arithmetic wraps mod 2**32
    if not pieces:
        return np.zeros(0, dtype=np.uint32)
    flat = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
    return np.unique(flat) if unique else flat


def shingles(text: str) -> np.ndarray:
    """Sorted unique uint32 hashes of the word unigrams and bigrams of ``text``."""
    return shingle_set([word_hashes(text)])


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sets of hashes (repeats allowed)."""
    if a.size == 0 and b.size == 0:
        return 1.0
    a, b = np.unique(a), np.unique(b)
    inter = np.intersect1d(a, b, assume_unique=True).size
    return inter / (a.size + b.size - inter)


@dataclass
class Views:
    """The parts of one example that duplicates and conflicts compare."""

    exact: str  # hash of the whole conversation, whitespace-normalised
    system: str  # hash of the system message(s)
    prompt_key: str  # hash of the normalised prompt words
    conv: np.ndarray
    prompt: np.ndarray
    answer: np.ndarray
    numbers: frozenset = frozenset()  # the figures the answer states ("$4.95", "30")
    conv_m: list[bytes] | None = None  # LSH band keys of the MinHash signatures,
    prompt_m: list[bytes] | None = None  # set by DedupIndex.views (None: empty set)


def _digest(obj: list) -> str:
    # a unit separator between fields instead of json.dumps: a third of the cost
    text = "\x1f".join(x if isinstance(x, str) else "\x1e".join(x) for x in obj)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def views(example: Example) -> Views:
    """Split an example into the views above (each message's words hashed once)."""
    msgs = [(m.role, " ".join(m.content.split())) for m in example.messages]
    system = [c for r, c in msgs if r == "system"]
    rest = [(r, c) for r, c in msgs if r != "system"]
    last = max((i for i, (r, _) in enumerate(rest) if r == "assistant"), default=len(rest))
    hashes = [word_hashes(c) for _, c in rest]
    prompt = hashes[:last]
    prompt_words = np.concatenate(prompt) if prompt else np.zeros(0, dtype=np.uint32)
    return Views(
        exact=_digest(msgs), system=_digest(system),
        prompt_key=hashlib.blake2b(prompt_words.tobytes(), digest_size=12).hexdigest(),
        conv=shingle_set(hashes, unigrams=False, unique=False),
        prompt=shingle_set(prompt, unique=False),
        answer=shingle_set(hashes[last:last + 1], unique=False),
        numbers=frozenset(NUMBER.findall(rest[last][1]) if last < len(rest) else ()))


@dataclass
class Match:
    """An earlier row this one duplicates or contradicts."""

    check: str  # exact_duplicate | near_duplicate | conflicting_answers
    line: int  # the earlier row's line
    similarity: float
    message: str


class DedupIndex:
    """The rows seen so far; ``find`` compares a new row, ``insert`` adds it."""

    def __init__(self, near_threshold: float = 0.8, prompt_threshold: float = 0.8,
                 agree_threshold: float = 0.5, num_perm: int = NUM_PERM):
        self.near, self.prompt_t, self.agree = near_threshold, prompt_threshold, agree_threshold
        self.num_perm = num_perm
        # the shingles are already 32-bit hashes: they are signed as they are
        self._signer = Signer(num_perm, seed=1)
        self.conv_lsh = BandIndex(num_perm, BANDS)
        self.prompt_lsh = BandIndex(num_perm, BANDS)
        self.exact: dict[str, int] = {}
        self.prompts: dict[str, list[int]] = {}
        self.rows: list[tuple[int, Views]] = []  # (line, views) by insertion order

    def __len__(self) -> int:
        return len(self.rows)

    def signatures(self, sets: list[np.ndarray]) -> list[np.ndarray | None]:
        """MinHash signatures (datasketch's affine32 values) of shingle sets; None if empty."""
        return self._signer.sign(sets)

    def views(self, examples: list[Example]) -> list[Views]:
        """The examples' views with the LSH band keys of their MinHash signatures."""
        vs = [views(e) for e in examples]
        convs = self.signatures([v.conv for v in vs])
        prompts = self.signatures([v.prompt for v in vs])
        keys = self.conv_lsh.keys
        for v, c, p in zip(vs, convs, prompts):
            v.conv_m = None if c is None else keys(c)
            v.prompt_m = None if p is None else keys(p)
        return vs

    def find(self, v: Views) -> list[Match]:
        """What earlier rows this row duplicates or contradicts (earliest first)."""
        if v.exact in self.exact:
            return [Match("exact_duplicate", self.exact[v.exact], 1.0,
                          "the same conversation appears earlier")]
        conflicts = self._conflicts(v)
        seen = {m.line for m in conflicts}
        near = [m for m in self._near(v) if m.line not in seen]
        return sorted(conflicts[:1] + near[:1], key=lambda m: m.line)

    def _near(self, v: Views) -> list[Match]:
        if v.conv_m is None:
            return []
        found = []
        for key in self.conv_lsh.query(v.conv_m):
            line, other = self.rows[key]
            sim = jaccard(v.conv, other.conv)
            if sim >= self.near:
                found.append(Match("near_duplicate", line, sim,
                                   f"{sim:.0%} similar to an earlier conversation"))
        return sorted(found, key=lambda m: m.line)

    def _similar_prompts(self, v: Views) -> list[tuple[int, Views, float]]:
        """Indexed rows with the same system message and a (nearly) equal prompt."""
        if v.prompt.size == 0:
            return []
        keys = set(self.prompts.get(v.prompt_key, []))
        if v.prompt_m is not None:
            keys.update(self.prompt_lsh.query(v.prompt_m))
        found = []
        for key in keys:
            line, other = self.rows[key]
            if other.system != v.system:
                continue
            same = other.prompt_key == v.prompt_key
            psim = 1.0 if same else jaccard(v.prompt, other.prompt)
            if psim >= self.prompt_t:
                found.append((line, other, psim))
        return sorted(found, key=lambda t: t[0])

    def _conflicts(self, v: Views) -> list[Match]:
        found = []
        if v.answer.size == 0:  # no answer: no_assistant_turn says so already
            return found
        for line, other, psim in self._similar_prompts(v):
            if other.answer.size == 0:
                continue
            same = psim == 1.0
            asim = jaccard(v.answer, other.answer)
            kind = "the same prompt" if same else f"a {psim:.0%} similar prompt"
            if asim < self.agree:
                found.append(Match("conflicting_answers", line, asim,
                                   f"{kind} has a different answer earlier "
                                   f"(answers {asim:.0%} alike)"))
            elif v.numbers != other.numbers:
                # alike in words but not in figures: "$4.95" against "$6.95"
                diff = sorted(v.numbers ^ other.numbers)[:4]
                found.append(Match("conflicting_answers", line, asim,
                                   f"{kind} has an answer with other figures earlier "
                                   f"({', '.join(diff)} differ)"))
        return found

    def insert(self, v: Views, line: int) -> None:
        """Index a row so later rows are compared with it."""
        if v.exact in self.exact:
            return
        key = len(self.rows)
        self.rows.append((line, v))
        self.exact[v.exact] = line
        self.prompts.setdefault(v.prompt_key, []).append(key)
        if v.conv_m is not None:
            self.conv_lsh.insert(key, v.conv_m)
        if v.prompt_m is not None:
            self.prompt_lsh.insert(key, v.prompt_m)

    def overlap(self, v: Views) -> Match | None:
        """The indexed row an eval row duplicates (whole or prompt), or None."""
        if v.exact in self.exact:
            return Match("eval_overlap", self.exact[v.exact], 1.0,
                         "this eval row is an exact copy of a train row")
        near = self._near(v)
        if near:
            return Match("eval_overlap", near[0].line, near[0].similarity,
                         f"this eval row is {near[0].similarity:.0%} similar to a train row")
        prompts = self._similar_prompts(v)
        if prompts:
            line, _, sim = prompts[0]
            return Match("eval_overlap", line, sim,
                         f"this eval row's prompt is {sim:.0%} similar to a train row's")
        return None
