"""Source health: a source that suddenly yields nothing is news for the operator, once.

A run is unhealthy when it got no items at all and something went wrong (a fetch failed, a page
was a verification wall, a selector matched nothing). The operator hears when a source turns
unhealthy and when it recovers — never again while it stays in the same state.
"""

from __future__ import annotations

from crawler.types import RunStats

DOWN = "source_down"
UP = "source_up"
NOTICE_GRADE = "一般"  # channels that take only 重大 (the leader's) are not bothered with source health


def is_healthy(items: int, errors: list[str] | str | None) -> bool:
    return items > 0 or not errors


def health_change(previous_healthy: bool | None, stats: RunStats) -> str | None:
    """``source_down`` / ``source_up`` when this run changes the source's state, else None.

    ``previous_healthy`` is None for a source's first run: a first run that fails is reported.
    """
    healthy = is_healthy(stats.items, stats.errors)
    if not healthy and previous_healthy is not False:
        return DOWN
    if healthy and previous_healthy is False:
        return UP
    return None


def describe(kind: str, stats: RunStats) -> str:
    if kind == UP:
        return f"恢复正常：本次巡查取得 {stats.items} 条内容 (recovered)"
    reasons = "；".join(e.split(": ", 1)[-1] for e in stats.errors[:3])
    return f"巡查未取得任何内容：{reasons}"
