"""Near-duplicate detection: reposts of one story across sites fold into one incident.

A bottom-k MinHash sketch over character 3-grams of the text with punctuation and spaces removed
(reposts change punctuation, add 【转】 and source lines). Two sketches estimate the Jaccard
similarity of the texts. Written here rather than taken from datasketch because it is twenty
lines and datasketch pulls in NumPy and SciPy for what is, at alert volume, a handful of
comparisons.
"""

from __future__ import annotations

import hashlib
import heapq
import unicodedata
from collections.abc import Iterable
from typing import TypeVar

SHINGLE = 3
SKETCH_SIZE = 128
SAME_STORY = 0.4  # estimated Jaccard at which two texts tell the same story
# Below this many letters a text is a one-liner ("化隆二幼乱收费？"): two of them share most
# shingles without being one story, so short texts never fold.
MIN_LETTERS = 40

K = TypeVar("K")


def _squeezed(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN").lower()


def sketch(text: str) -> list[int]:
    """The ``SKETCH_SIZE`` smallest 63-bit hashes of the text's shingles, ascending; empty for a
    text shorter than ``MIN_LETTERS`` letters and digits (such a text matches nothing)."""
    plain = _squeezed(text)
    if len(plain) < MIN_LETTERS:
        return []
    shingles = {plain[i : i + SHINGLE] for i in range(max(len(plain) - SHINGLE + 1, 1))}
    hashes = {int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "big") >> 1 for s in shingles if s}
    return heapq.nsmallest(SKETCH_SIZE, hashes)


def similarity(a: list[int], b: list[int]) -> float:
    """Estimated Jaccard similarity of the two texts the sketches came from."""
    if not a or not b:
        return 0.0
    union = heapq.nsmallest(SKETCH_SIZE, set(a) | set(b))
    both = set(a) & set(b)
    return sum(1 for h in union if h in both) / len(union)


def same_story(story: list[int], candidates: Iterable[tuple[K, list[int]]]) -> K | None:
    """The key of the candidate most similar to ``story``, if it tells the same story."""
    best, best_score = None, SAME_STORY
    for key, other in candidates:
        score = similarity(story, other)
        if score >= best_score:
            best, best_score = key, score
    return best
