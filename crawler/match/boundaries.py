"""Confirm Aho–Corasick candidates as words, segmenting only small windows around them.

Chinese has no spaces, so a substring is not yet a mention: 县二幼 occurs in 某县二幼儿园, 市长 in
南京市长江大桥. The rule, applied to jieba's segmentation of the window (HMM off, so boundaries come
only from the dictionary, which holds every term):

* a candidate is rejected when a token *straddles one of its edges* — the characters at the edge
  belong to a different word (县/二/幼儿园, 南京市/长江大桥, 和/尚未);
* it is confirmed when both edges are token boundaries, or when one token *contains* it whole: the
  term used inside a compound (投诉无门, 呕吐物) is still that term — unless that token is itself a
  configured term: 化隆 inside 化隆二幼 is part of the name of another thing the rules know, not a
  mention of the county (rules wanting both list both);
* Latin letters and digits need a real word boundary: a term edge that is a letter or digit must
  not touch another letter or digit (``ai`` is not in ``email``, ``12345`` not in ``123456``).

The window around a candidate is the *block* jieba itself would segment it in: jieba splits text
at every character outside ``re_han_default`` (punctuation, spaces) and segments each block on its
own, so segmenting the block alone gives exactly the tokens of segmenting the whole document, and
a clause is usually only a dozen characters. A block longer than ``max_span`` (text without
punctuation) falls back to ``window`` characters either side. Windows of neighbouring candidates
(overlapping, or less than ``JOIN`` apart: blocks stay independent inside one call) are merged up
to ``max_span`` characters so each stretch is segmented once, and jieba never runs over a whole
document.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Container, Iterable, Iterator


def _import_jieba() -> None:
    """Import jieba without ``pkg_resources``: jieba 0.42 imports it (6 MB and 0.2 s, kept for the life
    of the daemon) only to open its own data files, and opens them by path when it is missing, as in
    an environment without setuptools."""
    if "jieba" in sys.modules or "pkg_resources" in sys.modules:
        return
    sys.modules["pkg_resources"] = None  # type: ignore[assignment]  # makes ``import pkg_resources`` fail
    try:
        import jieba  # noqa: F401
    finally:
        del sys.modules["pkg_resources"]


_import_jieba()
import jieba  # noqa: E402

WINDOW = 20  # characters of context on each side of a candidate in an over-long block
MAX_SPAN = 400  # longest stretch segmented in one call
JOIN = 10  # windows this close are segmented in one call: a call costs more than a few characters

Span = tuple[int, int]
_OUTSIDE_BLOCK = re.compile(r"[^\u4E00-\u9FD5a-zA-Z0-9+#&\._%\-]")  # the complement of jieba.re_han_default


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


def _block(text: str, start: int, end: int, window: int, reach: int) -> Span:
    """The jieba block(s) holding ``text[start:end]``, or ``window`` either side past ``reach``."""
    before = _OUTSIDE_BLOCK.search(text[max(0, start - reach):start][::-1])
    lo = start - before.start() if before else (0 if start <= reach else start - window)
    after = _OUTSIDE_BLOCK.search(text, end, end + reach)
    hi = after.start() if after else (len(text) if len(text) - end <= reach else end + window)
    return lo, hi


def _windows(text: str, spans: list[Span], window: int, max_span: int) -> Iterator[tuple[int, int, list[Span]]]:
    """Group sorted candidate spans into merged windows ``(a, b, members)``."""
    a = b = -1
    members: list[Span] = []
    for s, e in spans:
        if members and e <= b:  # inside the current window, whose blocks are whole
            members.append((s, e))
            continue
        lo, hi = _block(text, s, e, window, max_span // 2)
        if members and lo <= b + JOIN and max(b, hi) - a <= max_span:
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


def _is_word(segment: str, start: int, end: int, starts: list[int], ends: list[int], terms: Container[str]) -> bool:
    first_start, first_end = starts[start], ends[start]
    if first_start == start and ends[end - 1] == end:  # both edges are token boundaries
        return True
    # one token contains the candidate, and that token is not the name of something else
    return first_start <= start and first_end >= end and segment[first_start:first_end] not in terms


def confirm(text: str, spans: Iterable[Span], tokenizer: jieba.Tokenizer, terms: Container[str] = frozenset(),
            window: int = WINDOW, max_span: int = MAX_SPAN) -> set[Span]:
    """The candidate spans of ``text`` that are words by the rule above; ``terms``: every term key."""
    confirmed: set[Span] = set()
    ordered = sorted({(s, e) for s, e in spans if latin_edges_ok(text, s, e)})
    for a, b, members in _windows(text, ordered, window, max_span):
        segment = text[a:b]
        starts, ends = _token_bounds(tokenizer, segment)
        confirmed.update((s, e) for s, e in members if _is_word(segment, s - a, e - a, starts, ends, terms))
    return confirmed
