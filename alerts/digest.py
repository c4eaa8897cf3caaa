"""一般舆情汇总: the 一般 alerts of channels with ``digest: true``, one message at each ``digest_at``.

DESIGN §7: 重大 goes to the leader and operator at once; 一般 is read at the end of each patrol
window, as one list, rather than as a message per post. The alerts are stored and their
deliveries created as usual (the outbox guarantees hold); the outbox just does not send a digest
channel's 一般 deliveries (``queries.claim_deliveries(digest=…)``). At each digest time one
transaction marks them 'digested' and adds one notice per channel listing them, which the outbox
then delivers like any notice — at least once, with its own idempotency key. A daemon that was
down at a digest time sends the overdue digest when it starts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import queries
from storage.workflow import write_transaction

log = logging.getLogger("yuqing.digest")

DIGEST_KIND = "digest"
DIGEST_SOURCE = "yuqing"


def _at(day: datetime, clock: str, tz: ZoneInfo) -> datetime:
    hours, minutes = (int(part) for part in clock.split(":"))
    return datetime(day.year, day.month, day.day, hours, minutes, tzinfo=tz)


def fire_times(times: list[str], tz: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """The last digest time at or before ``now`` and the next one after it (aware, UTC)."""
    local = now.astimezone(tz)
    candidates = sorted(_at(local + timedelta(days=d), clock, tz) for d in (-1, 0, 1) for clock in times)
    last = max(t for t in candidates if t <= local)
    following = min(t for t in candidates if t > local)
    return last.astimezone(UTC), following.astimezone(UTC)


def digest_message(alerts: list[queries.Digested], tz: ZoneInfo) -> str:
    lines = [f"共 {len(alerts)} 条一般舆情（按发现时间）："]
    for n, alert in enumerate(alerts, 1):
        lines.append(f"{n}. {alert.found_at.astimezone(tz):%m-%d %H:%M} [{alert.category}] {alert.title or '（无标题）'}"
                     f"（{alert.source_id}，告警 {alert.alert_id}）")
        lines.append(f"   {alert.url}")
    return "\n".join(lines)


async def send_digest(session: AsyncSession, channels: frozenset[str], *, before: datetime, now: datetime,
                      tz: ZoneInfo) -> dict[str, int]:
    """Gather the held 一般 alerts found before ``before`` into one notice per channel, in one
    transaction; how many alerts each channel's digest lists."""
    if not channels:
        return {}
    async with write_transaction(session):
        taken = await queries.take_digest(session, channels, before=before)
        for channel, alerts in taken.items():
            await queries.add_notice(
                session, key=f"{DIGEST_KIND}\n{channel}\n{alerts[0].alert_id}\n{alerts[-1].alert_id}",
                kind=DIGEST_KIND, source_id=DIGEST_SOURCE, message=digest_message(alerts, tz), url="", now=now,
                channels=[channel])
    return {channel: len(alerts) for channel, alerts in taken.items()}


class DigestService:
    """The daemon's digest clock; reads the current configuration at every round (reloads apply)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Callable[[], tuple[frozenset[str], list[str], ZoneInfo]],
                 on_notice: Callable[[], None], clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.sessions = sessions
        self.settings = settings  # (digest channels, digest_at, timezone)
        self.on_notice = on_notice
        self.clock = clock

    async def fire(self, before: datetime) -> dict[str, int]:
        channels, _, tz = self.settings()
        async with self.sessions() as session:
            sent = await send_digest(session, channels, before=before, now=self.clock(), tz=tz)
        if sent:
            log.info("一般舆情汇总 digest %s", " ".join(f"{channel}={n}" for channel, n in sent.items()))
            self.on_notice()
        return sent

    async def run(self, stop: asyncio.Event) -> None:
        """Send an overdue digest now, then one at each digest time until ``stop``."""
        _, times, tz = self.settings()
        await self.fire(fire_times(times, tz, self.clock())[0])
        while not stop.is_set():
            _, times, tz = self.settings()
            following = fire_times(times, tz, self.clock())[1]
            wait_s = max((following - self.clock()).total_seconds(), 0.0)
            try:
                await asyncio.wait_for(stop.wait(), timeout=min(wait_s, 60.0))  # re-read the times each minute
            except TimeoutError:
                if self.clock() >= following:
                    await self.fire(following)
