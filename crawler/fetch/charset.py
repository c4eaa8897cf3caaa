"""Turn response bytes into text, trusting declarations only as far as the bytes agree.

Policy settings read: ``encoding`` (by the caller, passed in as ``forced``).

Order: forced encoding; byte-order mark; the charset of the Content-Type header, of a ``<meta>``
in the first 4 KB, of the XML declaration (each must decode strictly: sites lie, UTF-8 declared
but GBK sent and the reverse — and since GBK/GB18030 decode almost anything, a legacy CJK label
loses to bytes that are valid UTF-8 with Chinese in them); strict UTF-8; a Latin-1-family label (see ``_WEAK``); detection
by charset-normalizer; finally the first declared charset or UTF-8, with replacement characters.
"""

from __future__ import annotations

import codecs
import re
from types import MappingProxyType

from charset_normalizer import from_bytes

_SNIFF_BYTES = 4096
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';\s]+)""", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_BOMS = (  # (mark, codec that drops it, name reported)
    (codecs.BOM_UTF8, "utf-8-sig", "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16", "utf-16-be"),
)
# Labels decoded with a superset: pages labelled gb2312 routinely hold GBK characters, GBK pages
# GB18030 ones; browsers (WHATWG) read latin-1 and ascii as windows-1252.
_SUPERSETS = MappingProxyType(
    {
        "gb2312": "gb18030",
        "gbk": "gb18030",
        "iso8859-1": "cp1252",
        "ascii": "cp1252",
    }
)
# Latin-1-family labels are mostly server defaults (Tomcat, old Apache), not the author's choice,
# and decode almost any bytes: they are tried only after strict UTF-8.
_WEAK = frozenset({"cp1252"})
# Legacy CJK codecs (supersets applied) decode most byte strings strictly — GB18030 nearly all —
# so a UTF-8 page labelled GBK would come out as mojibake without complaint. Valid UTF-8 with a
# few Chinese characters in it is, conversely, never GBK text by chance: it wins over these labels.
_LEGACY_CJK = frozenset({"gb18030", "big5", "big5hkscs", "shift_jis", "cp932", "euc_jp", "euc_kr", "cp949", "cp950"})
_UTF8_EVIDENCE = 9  # non-ASCII bytes: three Chinese characters in UTF-8 (the famous GBK "联通" is 4)
# Python codecs that decode bytes but are no page encoding (browsers refuse them too).
_NOT_FOR_PAGES = frozenset({"unicode-escape", "raw-unicode-escape", "utf-7"})


def _codec(label: str | bytes | None) -> str | None:
    """Python's codec name for a charset label, superset applied; None if unknown."""
    if isinstance(label, bytes):
        label = label.decode("ascii", "replace")
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().lower()).name
    except (LookupError, ValueError):  # ValueError: a NUL in the label
        return None
    if name in _NOT_FOR_PAGES:
        return None
    return _SUPERSETS.get(name, name)


def _decode(body: bytes, codec: str, errors: str) -> str | None:
    """``body`` decoded, or None when it does not fit the codec (or the codec is not a text one)."""
    try:
        return body.decode(codec, errors)
    except (UnicodeError, LookupError):
        return None


def _declared(body: bytes, content_type: str | None) -> list[str]:
    """Codecs declared by the header, then a <meta>, then the XML declaration; duplicates dropped."""
    head = body[:_SNIFF_BYTES]
    header = _HEADER_CHARSET.search(content_type or "")
    meta = _META_CHARSET.search(head)
    xml = _XML_ENCODING.search(head)
    meta_codec = _codec(meta.group(1)) if meta else None
    if meta_codec is not None and meta_codec.startswith("utf-16"):
        meta_codec = "utf-8"  # bytes that spell an ASCII <meta> are not UTF-16 (WHATWG does the same)
    found = [
        _codec(header.group(1)) if header else None,
        meta_codec,
        _codec(xml.group(1)) if xml else None,
    ]
    return list(dict.fromkeys(c for c in found if c is not None))


def _detect(body: bytes) -> str | None:
    """charset-normalizer's guess, made on the lines holding non-ASCII bytes only.

    Pages are mostly ASCII markup and script; fed whole, a GBK news page was taken for ISO-8859-5.
    """
    sample = b"\n".join(line for line in body.splitlines() if not line.isascii())
    if not sample:
        return None
    best = from_bytes(sample).best()
    return _codec(best.encoding) if best is not None else None


def decode_body(body: bytes, content_type: str | None, forced: str | None = None) -> tuple[str, str]:
    """Return (text, codec name) for a response body; never raises."""
    forced_codec = _codec(forced)
    if forced_codec is not None:
        text = _decode(body, forced_codec, "replace")
        if text is not None:
            return text, forced_codec
    for bom, codec, name in _BOMS:
        if body.startswith(bom):
            return body.decode(codec, "replace"), name
    declared = _declared(body, content_type)
    utf8 = _decode(body, "utf-8", "strict")
    evident = len(body) - len(body.decode("ascii", "ignore")) >= _UTF8_EVIDENCE
    for codec in declared:
        if codec in _WEAK:
            continue
        if codec in _LEGACY_CJK and utf8 is not None and evident:
            return utf8, "utf-8"  # labelled GBK (or Big5…), sent UTF-8
        if (text := _decode(body, codec, "strict")) is not None:
            return text, codec
    if utf8 is not None:
        return utf8, "utf-8"
    for codec in declared:
        if codec in _WEAK and (text := _decode(body, codec, "strict")) is not None:
            return text, codec
    detected = _detect(body)
    for codec in ([detected] if detected is not None else []) + declared:
        if (text := _decode(body, codec, "replace")) is not None:
            return text, codec
    return body.decode("utf-8", "replace"), "utf-8"
