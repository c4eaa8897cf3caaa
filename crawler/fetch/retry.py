"""When to try again: exponential backoff, and the server's own Retry-After.

Policy settings read: ``backoff_s``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from crawler.types import FetchPolicy

# A server asking for a longer pause is not waited for inside one fetch: the patrol moves on.
RETRY_AFTER_MAX_S = 60.0


def backoff_s(policy: FetchPolicy, attempt: int) -> float:
    """Pause before retry number ``attempt + 1``: backoff_s, then twice that, four times…"""
    return policy.backoff_s * 2.0**attempt


def retry_after_s(value: str | None, now: datetime) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or HTTP-date); None if absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
