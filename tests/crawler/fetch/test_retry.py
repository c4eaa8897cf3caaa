"""Backoff and Retry-After parsing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawler.fetch.retry import backoff_s, retry_after_s
from crawler.types import FetchPolicy

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


def test_backoff_doubles() -> None:
    policy = FetchPolicy(backoff_s=0.5)
    assert [backoff_s(policy, n) for n in range(4)] == [0.5, 1.0, 2.0, 4.0]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", 1.0),
        (" 120 ", 120.0),
        ("Wed, 01 Jan 2025 12:00:30 GMT", 30.0),
        ("Wed, 01 Jan 2025 11:00:00 GMT", 0.0),  # in the past: no wait
        (None, None),
        ("soon", None),
        ("-5", None),
        ("١٢", None),  # non-ASCII digits are not delta-seconds
    ],
)
def test_retry_after(value: str | None, expected: float | None) -> None:
    assert retry_after_s(value, NOW) == expected
