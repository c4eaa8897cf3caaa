"""Source health: a source that suddenly yields nothing is news for the operator, once.

A run is unhealthy when it got no items at all and something went wrong (a fetch failed, a page
was a verification wall, a selector matched nothing). The operator hears when a source turns
unhealthy and when it recovers — never again while it stays in the same state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from crawler.types import RunStats
from storage.models import RunRow

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


FINISHED = ("ok", "partial", "failed")


@dataclass(frozen=True)
class SourceHealth:
    """What ``yuqing sources`` and the desk's sources page show of one source: its last finished
    run and its record over the runs given."""

    source_id: str
    last: RunRow | None
    runs: int
    failed: int

    @property
    def healthy(self) -> bool | None:
        """None: never patrolled (in the period)."""
        return None if self.last is None else is_healthy(self.last.items, self.last.error)


def source_health(source_ids: Iterable[str], runs: Iterable[RunRow]) -> dict[str, SourceHealth]:
    """Per source, from its finished runs (``runs`` oldest first, as ``storage.reports.runs_between`` gives them)."""
    mine: dict[str, list[RunRow]] = {source_id: [] for source_id in source_ids}
    for run in runs:
        if run.source_id in mine and run.status in FINISHED:
            mine[run.source_id].append(run)
    return {source_id: SourceHealth(source_id, max(found, key=lambda r: (r.started_at, r.id)) if found else None,
                                    len(found), sum(r.status == "failed" for r in found))
            for source_id, found in mine.items()}
