"""Log setup: one line per event, ``key=value`` pairs, times in the configured timezone."""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from zoneinfo import ZoneInfo


class _LocalTimeFormatter(logging.Formatter):
    def __init__(self, tz: ZoneInfo) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self.tz = tz

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return datetime.fromtimestamp(record.created, self.tz).isoformat(timespec="seconds")


def setup_logging(level: str = "INFO", tz: str = "Asia/Shanghai") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LocalTimeFormatter(ZoneInfo(tz)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("apscheduler", "aiosqlite", "jieba", "mail.log", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
