"""Confirm Aho–Corasick candidates as words, segmenting only small windows around them.

Chinese has no spaces, so a substring is not yet a mention: 县二幼 occurs in 某县二幼儿园, 市长 in
南京市长江大桥. The rule, applied to jieba's segmentation of the window (HMM off, so boundaries come
only from the dictionary, which holds every term):

* a candidate is rejected when a token *straddles one of its edges* — the characters at the edge
  belong to a different word (县/二/幼儿园, 南京市/长江大桥, 和/尚未);
* it is confirmed when both edges are token boundaries, or when one token *contains* it whole: the
  term used inside a compound (投诉无门, 呕吐物, 化隆县教育局) is still that term;
* Latin letters and digits need a real word boundary: a term edge that is a letter or digit must
  not touch another letter or digit (``ai`` is not in ``email``, ``12345`` not in ``123456``).

Windows of neighbouring candidates are merged up to ``max_span`` characters so each stretch of text
is segmented once, and jieba never runs over a whole document.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import jieba

WINDOW = 20  # characters of context on each side of a candidate
MAX_SPAN = 400  # longest stretch segmented in one call

Span = tuple[int, int]


def _wordlike(ch: str) -> bool:
    """A letter or digit of an alphabetic script (CJK ideographs start at U+2E80)."""
    return ch.isalnum() and ord(ch) < 0x2E80


def latin_edges_ok(text: str, start: int, end: int) -> bool:
    """False when a letter/digit edge of ``text[start:end]`` runs on into another letter/digit."""
    if start > 0 and _wordlike(text[start]) and _wordlike(text[start - 1]):
        return False
    if end < len(text) and _wordlike(text[end - 1]) and _wordlike(text[end]):
        return False
    return True


def _windows(spans: list[Span], length: int, window: int, max_span: int) -> Iterator[tuple[int, int, list[Span]]]:
    """Group sorted candidate spans into merged windows ``(a, b, members)``."""
    a = b = -1
    members: list[Span] = []
    for s, e in spans:
        lo, hi = max(0, s - window), min(length, e + window)
        if members and lo <= b and max(b, hi) - a <= max_span:
            b = max(b, hi)
            members.append((s, e))
            continue
        if members:
            yield a, b, members
        a, b, members = lo, hi, [(s, e)]
    if members:
        yield a, b, members


def _token_bounds(tokenizer: jieba.Tokenizer, segment: str) -> tuple[list[int], list[int]]:
    """For every position of ``segment``, the start and end of the token covering it."""
    starts = [0] * len(segment)
    ends = [0] * len(segment)
    for _, ts, te in tokenizer.tokenize(segment, HMM=False):
        for i in range(ts, te):
            starts[i] = ts
            ends[i] = te
    return starts, ends


def _no_straddle(start: int, end: int, starts: list[int], ends: list[int]) -> bool:
    first_start, first_end = starts[start], ends[start]
    if first_start <= start and first_end >= end:  # one token contains the candidate
        return True
    return first_start == start and ends[end - 1] == end


def confirm(text: str, spans: Iterable[Span], tokenizer: jieba.Tokenizer,
            window: int = WINDOW, max_span: int = MAX_SPAN) -> set[Span]:
    """The candidate spans of ``text`` that are words by the rule above."""
    confirmed: set[Span] = set()
    ordered = sorted({(s, e) for s, e in spans if latin_edges_ok(text, s, e)})
    for a, b, members in _windows(ordered, len(text), window, max_span):
        starts, ends = _token_bounds(tokenizer, text[a:b])
        confirmed.update((s, e) for s, e in members if _no_straddle(s - a, e - a, starts, ends))
    return confirmed
