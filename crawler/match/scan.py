"""Candidate occurrences of terms in one field: the cheap first pass of matching.

The multi-pattern search is ``ahocorasick_rs`` (Rust's aho-corasick crate, contiguous NFA,
overlapping matches so that 县二幼 is also found inside 化隆县二幼). Measured by ``bench/match.py``'s
corpus with 10,000 Chinese terms it scans ~50 MB/s of CPU time, against ~20 MB/s for pyahocorasick
even when that is fed UTF-8 bytes (its trick for large Chinese lists) and ~2 MB/s for pyahocorasick
over ``str``; it also returns character offsets, so no byte-offset mapping is needed.

Terms split by inserted fillers (化 隆 二 幼) are found by scanning small squeezed windows around
the gaps that could split a term (see ``squeeze``); their spans are in original coordinates too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property

from ahocorasick_rs import AhoCorasick, Implementation, MatchKind

from crawler.match.normalize import fold
from crawler.match.squeeze import Squeezed, squeeze_windows, term_gaps

Span = tuple[int, int]


class TermAutomaton:
    """Every occurrence of a fixed set of (folded) term keys, overlapping ones included."""

    def __init__(self, keys: Iterable[str]) -> None:
        """``keys`` must not be empty."""
        self._keys = tuple(keys)
        self._automaton = AhoCorasick(self._keys, matchkind=MatchKind.Standard,
                                      implementation=Implementation.ContiguousNFA)

    def scan(self, text: str) -> dict[str, list[Span]]:
        """key → character spans, in order of the start."""
        found: dict[str, list[Span]] = {}
        keys = self._keys
        for i, start, end in self._automaton.find_matches_as_indexes(text, overlapping=True):
            found.setdefault(keys[i], []).append((start, end))
        return found


@dataclass(frozen=True)
class Gapped:
    """A term found only once gaps were squeezed out: where in the window, and in the original."""

    key: str
    window: Squeezed
    start: int  # in window.text
    end: int

    @property
    def original(self) -> Span:
        return self.window.original(self.start, self.end)


@dataclass(frozen=True)
class FieldScan:
    """Everything the first pass learnt about one field."""

    text: str  # folded: same length as the original, so offsets are shared
    exact: dict[str, list[Span]]  # key → spans of contiguous occurrences
    gapped: tuple[Gapped, ...]

    @cached_property
    def seen(self) -> frozenset[str]:
        return frozenset(self.exact).union(g.key for g in self.gapped)

    @classmethod
    def of(cls, original: str, automaton: TermAutomaton | None, pairs: frozenset[str], reach: int) -> FieldScan:
        text = fold(original)
        if automaton is None or not text:
            return cls(text, {}, ())
        gaps = term_gaps(text, pairs) if pairs else []
        return cls(text, automaton.scan(text), tuple(_gapped(text, gaps, automaton, reach)))


def _gapped(text: str, gaps: list[Span], automaton: TermAutomaton, reach: int) -> Iterator[Gapped]:
    """Occurrences in squeezed windows that run across a gap (the others the exact scan has)."""
    for window in squeeze_windows(text, gaps, reach):
        for key, spans in automaton.scan(window.text).items():
            yield from (Gapped(key, window, s, e) for s, e in spans if window.crosses_gap(s, e))
