"""Text normalisation shared by terms and fields: one character in, one character out.

Keeping the length means an offset found in the normalised string is valid in the original, so
hits point at the text as it was published. Evasion-resistant folding (variants, pinyin, spacing)
is a later step and will need an offset map; this is deliberately the simple 1:1 part.
"""

from __future__ import annotations

from types import MappingProxyType

# U+FF01–U+FF5E are full-width forms of ASCII U+0021–U+007E; U+3000 is the ideographic space
_FOLD = MappingProxyType({cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20})


def normalize(text: str) -> str:
    """Full-width ASCII → ASCII, ideographic space → space, lowercase; ``len`` is preserved."""
    folded = text.translate(_FOLD)
    lowered = folded.lower()
    if len(lowered) == len(folded):  # lower() only ever lengthens, so equal length means 1:1
        return lowered
    return "".join(low if len(low := ch.lower()) == 1 else ch for ch in folded)
