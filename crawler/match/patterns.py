"""Regex terms (``re:PATTERN``), run with a time limit so that one bad pattern cannot hang a patrol.

A pattern such as ``(a|a)+$`` backtracks exponentially on "aaaa…b". The ``regex`` module checks a
timeout while it backtracks; the limit covers every search of one field, so a pattern that is
merely slow on a long page is cut off too. The caller skips the rule for that item and logs it.
"""

from __future__ import annotations

import time

import regex

TIMEOUT_S = 0.05  # per pattern and field

Span = tuple[int, int]


def find_all(pattern: regex.Pattern[str], text: str, timeout_s: float = TIMEOUT_S) -> list[Span]:
    """Non-empty, non-overlapping matches; raises ``TimeoutError`` past ``timeout_s`` in total."""
    deadline = time.monotonic() + timeout_s
    spans: list[Span] = []
    pos = 0
    while pos <= len(text):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(pattern.pattern)
        m = pattern.search(text, pos, timeout=remaining)
        if m is None:
            break
        if m.end() > m.start():
            spans.append(m.span())
        pos = max(m.end(), m.start() + 1)
    return spans
