"""Patrol windows with a fake clock: ticks, midnight crossing, weekdays, always."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from crawler.schedule.trigger import WindowTrigger
from crawler.schedule.windows import PatrolSchedule, Window

SH = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def schedule(windows: list[str], every_s: float = 900, weekdays: set[int] | None = None) -> PatrolSchedule:
    return PatrolSchedule(tuple(Window.parse(w) for w in windows), every_s, SH,
                          frozenset(weekdays) if weekdays is not None else frozenset(range(7)))


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (local(2026, 11, 30, 9, 0), local(2026, 11, 30, 13, 0)),  # before the first window
        (local(2026, 11, 30, 13, 0), local(2026, 11, 30, 13, 15)),  # strictly after
        (local(2026, 11, 30, 13, 44), local(2026, 11, 30, 13, 45)),
        (local(2026, 11, 30, 13, 45), local(2026, 11, 30, 16, 0)),  # 14:00 is the end: not a tick
        (local(2026, 11, 30, 17, 0), local(2026, 12, 1, 13, 0)),  # next day
    ],
)
def test_next_run_inside_windows(after: datetime, expected: datetime) -> None:
    assert schedule(["13:00-14:00", "16:00-17:00"]).next_run(after) == expected


def test_window_crossing_midnight() -> None:
    s = schedule(["23:00-01:00"], every_s=3600)
    assert s.next_run(local(2026, 11, 30, 23, 30)) == local(2026, 12, 1, 0, 0)
    assert s.current(local(2026, 12, 1, 0, 30)).start == local(2026, 11, 30, 23, 0)
    assert s.current(local(2026, 12, 1, 1, 0)) is None


def test_weekdays_skip_weekend() -> None:
    s = schedule(["13:00-14:00"], weekdays={0, 1, 2, 3, 4})
    friday_late = local(2026, 12, 4, 15, 0)  # 2026-12-04 is a Friday
    assert s.next_run(friday_late) == local(2026, 12, 7, 13, 0)  # Monday


def test_always_runs_every_interval() -> None:
    s = PatrolSchedule((), 600, SH)
    assert s.always
    assert s.next_run(local(2026, 11, 30, 10, 5)) == local(2026, 11, 30, 10, 10)
    assert s.current(local(2026, 11, 30, 10, 5)) is not None


def test_current_window_is_the_ledger_key() -> None:
    s = schedule(["13:00-14:00", "16:00-17:00"])
    occ = s.current(local(2026, 11, 30, 16, 20))
    assert (occ.start, occ.end) == (local(2026, 11, 30, 16, 0), local(2026, 11, 30, 17, 0))
    assert s.current(local(2026, 11, 30, 15, 0)) is None
    assert s.next_window(local(2026, 11, 30, 15, 0)).start == local(2026, 11, 30, 16, 0)


@pytest.mark.parametrize("bad", ["13-14", "25:00-26:00", "13:00-13:00", "13:60-14:00", "abc"])
def test_bad_window_text(bad: str) -> None:
    with pytest.raises(ValueError):
        Window.parse(bad)


def test_trigger_stays_inside_window_with_jitter() -> None:
    s = schedule(["13:00-13:10"], every_s=120)
    trigger = WindowTrigger(s, jitter_s=600)
    now = local(2026, 11, 30, 13, 7).astimezone(timezone.utc)
    fires = [trigger.get_next_fire_time(None, now) for _ in range(50)]
    tick = local(2026, 11, 30, 13, 8)
    assert all(tick <= f <= tick + timedelta(seconds=30) for f in fires)  # jitter ≤ every/4
    assert len(set(fires)) > 1  # and it does vary
    short = WindowTrigger(schedule(["13:00-13:09"], every_s=120), jitter_s=600)
    assert short.get_next_fire_time(None, now) < local(2026, 11, 30, 13, 9)  # never past the end
