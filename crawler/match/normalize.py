"""Text folding shared by terms and fields: one character in, one character out.

Keeping the length means an offset found in folded text is valid in the original, so hits point
at the text as it was published. Folding is per character, built once from Unicode and OpenCC:

* compatibility forms → their plain form (NFKC where it yields one character): full-width
  ＡＰＰ１２３ → app123, Kangxi radicals ⼈ → 人, compatibility ideographs, circled digits;
* traditional → simplified (OpenCC ``t2s`` applied to each character alone: 縣 → 县, 後 → 后).
  Character-level is enough for matching because terms and text are folded the same way, and it
  keeps the 1:1 offset map that phrase-level conversion would not guarantee;
* upper → lower case where that stays one character (İ stays İ).

Two tables: :func:`fold` (matching) only touches characters that fold to a letter, digit or
ideograph (and "_", which becomes a space), so ordinary Chinese punctuation (，。) costs nothing; :func:`normalize` also folds
full-width punctuation and spaces and is for terms and display. Spaces and symbols inserted
between characters are the business of ``squeeze``, not of folding.
"""

from __future__ import annotations

import re
import unicodedata
from types import MappingProxyType

import opencc


def _fold_char(ch: str, t2s: str) -> str:
    """One character's folded form; ``t2s`` is OpenCC's answer for the NFKC form of ``ch``."""
    out = t2s if len(t2s) == 1 else ch
    low = out.lower()
    return low if len(low) == 1 else out


def _build_table() -> dict[int, str]:
    """Every BMP character whose folded form differs: codepoint → one character.

    Built a block of code points at a time: the whole plane at once left ~3 MB of freed but
    fragmented heap in the daemon for good (one character per line, so the blocks change nothing)."""
    converter = opencc.OpenCC("t2s")
    table: dict[int, str] = {}
    for block in range(0x20, 0x10000, _BLOCK):
        _fold_block(range(block, min(block + _BLOCK, 0x10000)), converter, table)
    return table


_BLOCK = 0x1000


def _fold_block(codepoints: range, converter: opencc.OpenCC, table: dict[int, str]) -> None:
    chars = [chr(cp) for cp in codepoints if not 0xD800 <= cp <= 0xDFFF and cp != 0x0A]
    if not chars:
        return
    compat = [n if len(n := unicodedata.normalize("NFKC", ch)) == 1 and n != "\n" else ch for ch in chars]
    simplified = converter.convert("\n".join(compat)).split("\n")
    if len(simplified) != len(compat):  # OpenCC merged or split a line: use NFKC alone
        simplified = compat
    for ch, t2s in zip(chars, simplified):
        folded = _fold_char(ch, t2s)
        for _ in range(2):  # to a fixed point, so that folding twice changes nothing
            again = _fold_char(folded, folded)
            if again == folded:
                break
            folded = again
        if folded != ch:
            table[ord(ch)] = folded


def _char_class(codepoints: list[int]) -> str:
    """A regex character class matching exactly ``codepoints`` (sorted), as ranges."""
    parts: list[str] = []
    start = prev = codepoints[0]
    for cp in [*codepoints[1:], -1]:
        if cp == prev + 1:
            prev = cp
            continue
        parts.append(re.escape(chr(start)) if start == prev else f"{re.escape(chr(start))}-{re.escape(chr(prev))}")
        start = prev = cp
    return "[" + "".join(parts) + "]"


_ALL = _build_table()
_NORMALIZE = MappingProxyType(_ALL)
# "_" is a word character to regular expressions; as a space it is a filler like "-" or "*"
_MATCH = MappingProxyType({cp: ch for cp, ch in _ALL.items() if ch.isalnum()} | {ord("_"): " "})
# what is left to fold once str.lower() has run (ASCII capitals are common; these are rare)
_FOLD_RUN = re.compile(_char_class(sorted(cp for cp in _MATCH if chr(cp).lower() == chr(cp))) + "+")


def _fold_run(m: re.Match[str]) -> str:
    return m.group().translate(_MATCH)


def _lower(text: str) -> str:
    """``str.lower`` where it keeps every character one character (it only ever lengthens)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(low if len(low := ch.lower()) == 1 else ch for ch in text)


def fold(text: str) -> str:
    """Lower case, half-width, simplified; ``len`` is preserved. Cheap when nothing else needs folding."""
    lowered = _lower(text)
    if _FOLD_RUN.search(lowered) is None:
        return lowered
    return _FOLD_RUN.sub(_fold_run, lowered)


def normalize(text: str) -> str:
    """:func:`fold` plus full-width punctuation → ASCII and ideographic space → space; ``len`` kept."""
    return text.translate(_NORMALIZE)
