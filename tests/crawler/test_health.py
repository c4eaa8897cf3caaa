"""Health transitions as a table: one notice when a source goes down, one when it recovers."""

import pytest

from crawler.health import DOWN, UP, describe, health_change
from crawler.types import RunStats

FAILED = RunStats(fetched=1, failed=1, errors=["http://tieba/f: 百度安全验证页面 (Baidu verification wall)"])
EMPTY_OK = RunStats(fetched=1)  # nothing new but nothing wrong: a quiet forum is healthy
GOOD = RunStats(fetched=3, items=12)
PARTIAL = RunStats(fetched=3, failed=1, items=5, errors=["http://x/2: HTTP 500"])


@pytest.mark.parametrize(
    ("previous", "stats", "expected"),
    [
        (None, FAILED, DOWN),  # first run ever fails
        (True, FAILED, DOWN),
        (False, FAILED, None),  # still down: no repeat
        (False, GOOD, UP),
        (False, EMPTY_OK, UP),
        (True, GOOD, None),
        (None, GOOD, None),
        (True, PARTIAL, None),  # some pages failed, the source still works
        (True, EMPTY_OK, None),
    ],
)
def test_transitions(previous: bool | None, stats: RunStats, expected: str | None) -> None:
    assert health_change(previous, stats) == expected


def test_description_names_the_reason() -> None:
    assert "百度安全验证页面" in describe(DOWN, FAILED) and "http://tieba" not in describe(DOWN, FAILED)
    assert "12" in describe(UP, GOOD)
