"""Patrol windows as pure time arithmetic, so the scheduler can be tested with a fake clock.

A window such as ``13:00-14:00`` opens every selected weekday in the configured timezone; inside
it a source runs at ``start, start + every, …`` while before the end. A window whose end is not
after its start crosses midnight (``22:00-02:00``). ``always`` means one window that never closes:
runs every ``every`` seconds from midnight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
ALL_WEEKDAYS = frozenset(range(7))


@dataclass(frozen=True)
class Window:
    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> "Window":
        """``"13:00-14:00"`` → Window; ``24:00`` is allowed as an end."""
        m = _WINDOW.match(text)
        if not m:
            raise ValueError(f"时间窗格式应为 HH:MM-HH:MM，例如 13:00-14:00 (got {text!r})")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
            raise ValueError(f"无效的时间 invalid time in {text!r}")
        end = time(0, 0) if h2 == 24 else time(h2, m2)
        if time(h1, m1) == end and h2 != 24:
            raise ValueError(f"时间窗长度为零 empty window {text!r}")
        return cls(time(h1, m1), end)

    def duration(self) -> timedelta:
        start = datetime.combine(date.min, self.start)
        end = datetime.combine(date.min, self.end)
        if end <= start:
            end += timedelta(days=1)
        return end - start

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{'24:00' if self.end == time(0) and self.start != time(0) else f'{self.end:%H:%M}'}"


@dataclass(frozen=True)
class Occurrence:
    """One opening of a window on one day: the key of a patrol-ledger entry."""

    start: datetime  # aware, in the schedule's timezone
    end: datetime


@dataclass(frozen=True)
class PatrolSchedule:
    """The windows, interval and weekdays of one source."""

    windows: tuple[Window, ...]  # empty tuple = always
    every_s: float
    tz: ZoneInfo
    weekdays: frozenset[int] = ALL_WEEKDAYS  # 0 = Monday

    @property
    def always(self) -> bool:
        return not self.windows

    def _occurrences_around(self, moment: datetime) -> list[Occurrence]:
        """Window openings that start the day before through two days after ``moment``."""
        local = moment.astimezone(self.tz)
        windows = self.windows or (Window(time(0), time(0)),)
        out: list[Occurrence] = []
        for day_offset in (-1, 0, 1, 2):
            day = local.date() + timedelta(days=day_offset)
            if day.weekday() not in self.weekdays:
                continue
            for w in windows:
                start = datetime.combine(day, w.start, tzinfo=self.tz)
                out.append(Occurrence(start, start + w.duration()))
        return sorted(out, key=lambda o: o.start)

    def current(self, moment: datetime) -> Occurrence | None:
        """The window open at ``moment`` (the earliest, if windows overlap)."""
        for occ in self._occurrences_around(moment):
            if occ.start <= moment < occ.end:
                return occ
        return None

    def next_run(self, after: datetime) -> datetime | None:
        """The first run time strictly after ``after``: a tick inside some window."""
        for _ in range(8):  # a week of days without a selected weekday at most
            for occ in self._occurrences_around(after):
                if occ.end <= after:
                    continue
                if occ.start > after:
                    return occ.start
                ticks = int((after - occ.start).total_seconds() // self.every_s) + 1
                candidate = occ.start + timedelta(seconds=ticks * self.every_s)
                if candidate < occ.end:
                    return candidate
            after = after + timedelta(days=2)
        return None

    def next_window(self, after: datetime) -> Occurrence | None:
        """The window open at ``after`` or the next to open; shown by ``yuqing check``."""
        current = self.current(after)
        if current:
            return current
        nxt = self.next_run(after)
        return self.current(nxt) if nxt else None
