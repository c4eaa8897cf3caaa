"""The snippet of a hit: a short excerpt of the original text with the relied-on terms marked."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from crawler.types import TermMatch

CONTEXT = 20  # characters kept before the first marked term and after the last
REACH = 60  # further relied-on terms within this many characters of the first are kept in view
_SPACE = re.compile(r"\s+")


def make_snippet(fields: Mapping[str, str], relied: Sequence[TermMatch],
                 context: int = CONTEXT, reach: int = REACH) -> str:
    """~40 characters around the first relied-on occurrence, the body preferred over the title.

    Terms are marked 【like this】 and a cut end is shown as "…"; whitespace runs become one space.
    """
    if not relied:
        return ""
    field = "text" if any(m.field == "text" for m in relied) else relied[0].field
    text = fields[field]
    own = sorted((m for m in relied if m.field == field), key=lambda m: (m.start, -m.end))
    anchor = own[0]
    last = max((m.end for m in own if m.end - anchor.start <= reach), default=anchor.end)
    lo, hi = max(0, anchor.start - context), min(len(text), max(anchor.end, last) + context)
    parts: list[str] = ["…"] if lo > 0 else []
    pos = lo
    for m in own:
        if m.start < pos or m.end > hi:  # overlaps a mark already made, or runs past the cut
            continue
        parts += [text[pos:m.start], "【", text[m.start:m.end], "】"]
        pos = m.end
    parts.append(text[pos:hi])
    if hi < len(text):
        parts.append("…")
    return _SPACE.sub(" ", "".join(parts)).strip()
