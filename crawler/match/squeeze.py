"""Fillers inserted between Chinese characters to dodge filters: 化 隆 二 幼, 化*隆*二*幼, 化<U+200B>隆.

What counts as a gap, decided here once:

* a *soft* gap is a run of at most ``MAX_GAP`` characters that are neither letters/digits/ideographs
  nor separators — spaces (also U+3000), zero-width characters (U+200B–U+200D, U+2060, U+FEFF),
  combining marks, ASCII and full-width symbols (* . - _ / | ~ · • # @ +), ASCII quotes, emoji —
  between two Chinese characters. A term may run across soft gaps.
* *separators* are sentence and clause punctuation (，。！？；：、 and their ASCII forms, …), line
  breaks, and Chinese quotes and brackets (“” 《》 （） 【】 …). A term never runs across them:
  "化隆。二幼", or "…化隆" and "二幼…" on two lines, are two pieces of text, not a mention; quotes
  and brackets are how Chinese text is written, not a way to hide a word.

Gaps are only looked for between two Chinese characters: between Latin letters and digits a space
or a dot is part of the text ("new york", "3.15") and terms are matched as written.

Most text has many gaps (a space, a quote) and almost none that split a term, so a gap is only
worth squeezing when the two characters around it are adjacent in some term (``bigrams``);
squeezing then happens in a small window around such gaps, never over a whole document.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

MAX_GAP = 5  # longest filler run squeezed out between two characters of a term
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
SEPARATORS = "，。｡！？；：、,!?;:\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029…“”‘’「」『』《》〈〉【】〔〕〖〗（）()[]{}"

# a Chinese character, then a soft gap, then (not consumed) a Chinese character; the possessive
# quantifier never gives back, which halves the cost of this scan over every document
_SOFT_GAP = re.compile(f"[{CJK}][^\\w{re.escape(SEPARATORS)}]{{1,{MAX_GAP}}}+(?=[{CJK}])")
# in a term, every filler between two Chinese characters goes, hard or soft
_TERM_GAP = re.compile(f"(?<=[{CJK}])(?:[^\\w]|_)+(?=[{CJK}])")
_SPACES = re.compile(r"\s+")

Span = tuple[int, int]


def term_key(folded: str) -> str:
    """A folded term as it is matched: no fillers between Chinese characters, single spaces."""
    return _SPACES.sub(" ", _TERM_GAP.sub("", folded)).strip()


def bigrams(key: str) -> set[str]:
    """Adjacent Chinese character pairs of a term: the pairs a gap can split."""
    return {key[i:i + 2] for i in range(len(key) - 1)
            if _is_cjk(key[i]) and _is_cjk(key[i + 1])}


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def term_gaps(text: str, pairs: frozenset[str]) -> list[Span]:
    """The soft gaps of folded ``text`` that split a pair of adjacent term characters."""
    return [(m.start() + 1, m.end()) for m in _SOFT_GAP.finditer(text)
            if text[m.start()] + text[m.end()] in pairs]


@dataclass(frozen=True)
class Squeezed:
    """A stretch of text with some gaps removed, and where each of its characters came from."""

    text: str
    origin: tuple[int, ...]  # origin[i]: offset in the original text of text[i]

    def original(self, start: int, end: int) -> Span:
        """The original span of ``text[start:end]``, gaps inside it included."""
        return self.origin[start], self.origin[end - 1] + 1

    def crosses_gap(self, start: int, end: int) -> bool:
        return self.origin[end - 1] - self.origin[start] != end - 1 - start


def squeeze_windows(text: str, gaps: list[Span], reach: int) -> Iterator[Squeezed]:
    """Windows of ``reach`` characters around gaps (merged when they overlap), gaps removed.

    ``reach`` must cover the longest term plus the context segmentation needs; every gap of one
    term is a term gap itself, so the windows of a term's gaps overlap and merge.
    """
    i = 0
    while i < len(gaps):
        lo, hi = max(0, gaps[i][0] - reach), min(len(text), gaps[i][1] + reach)
        mine = [gaps[i]]
        i += 1
        while i < len(gaps) and gaps[i][0] - reach <= hi:
            hi = min(len(text), gaps[i][1] + reach)
            mine.append(gaps[i])
            i += 1
        pieces: list[str] = []
        origin: list[int] = []
        pos = lo
        for g0, g1 in mine:
            pieces.append(text[pos:g0])
            origin.extend(range(pos, g0))
            pos = g1
        pieces.append(text[pos:hi])
        origin.extend(range(pos, hi))
        yield Squeezed("".join(pieces), tuple(origin))
