"""An APScheduler 3.x trigger that fires only inside a source's patrol windows."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from apscheduler.triggers.base import BaseTrigger

from crawler.schedule.windows import PatrolSchedule


class WindowTrigger(BaseTrigger):
    """Fires at each tick of the schedule, delayed by a random jitter that never leaves the window.

    Jitter spreads sources that share a window so that they do not all hit the network at the
    same second.
    """

    def __init__(self, schedule: PatrolSchedule, jitter_s: float = 0.0) -> None:
        self.schedule = schedule
        self.jitter_s = jitter_s

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        # Ticks are derived from the clock, not from previous_fire_time (which carries jitter).
        tick = self.schedule.next_run(now - timedelta(microseconds=1))
        if tick is None:
            return None
        occ = self.schedule.current(tick)
        room = (occ.end - tick).total_seconds() if occ else 0.0
        jitter = min(self.jitter_s, self.schedule.every_s / 4, max(room - 1, 0))
        return tick + timedelta(seconds=random.uniform(0, jitter)) if jitter > 0 else tick

    def __str__(self) -> str:
        windows = ", ".join(str(w) for w in self.schedule.windows) or "always"
        return f"window[{windows}, every {self.schedule.every_s:g}s]"
