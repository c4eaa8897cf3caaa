"""The delivery worker: sends each pending (alert, channel) pair exactly once, across restarts.

Rows are claimed with a lease (see storage.queries.claim_deliveries); a failure puts the row back
with an exponential backoff, so a dead SMTP server or a webhook answering 500 only delays alerts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crawler.types import DeliveryError, Payload
from storage import queries

log = logging.getLogger("yuqing.outbox")


class Notifier(Protocol):
    timeout_s: float

    async def send(self, alert: Payload) -> None: ...


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclasses.dataclass(frozen=True)
class Backoff:
    """Delay before attempt n+1: base·2ⁿ⁻¹ with ±20 % jitter, capped."""

    base_s: float = 5.0
    max_s: float = 1800.0

    def delay(self, attempts: int) -> float:
        raw = min(self.base_s * 2 ** max(attempts - 1, 0), self.max_s)
        return raw * random.uniform(0.8, 1.2)


class Outbox:
    """Drains the deliveries table into the notifiers."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        notifiers: Mapping[str, Notifier],
        *,
        source_names: Mapping[str, str] | None = None,
        backoff: Backoff = Backoff(),
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.sessions = sessions
        self.notifiers = dict(notifiers)
        self.source_names = dict(source_names or {})
        self.backoff = backoff
        self.clock = clock
        self.wakeup = asyncio.Event()
        self.digest: frozenset[str] = frozenset()  # channels whose 一般 alerts wait for alerts.digest

    def _lease_s(self, channel: str) -> float:
        notifier = self.notifiers.get(channel)
        return (notifier.timeout_s if notifier else 30.0) + 5.0

    async def drain_once(self) -> int:
        """Send everything due now; returns how many deliveries succeeded."""
        sent = 0
        while True:
            async with self.sessions() as session:
                claimed = await queries.claim_deliveries(session, self.clock(), self._lease_s, digest=self.digest)
            if not claimed:
                return sent
            results = await asyncio.gather(*(self._deliver(c) for c in claimed))
            sent += sum(results)
            if not any(results):
                return sent

    async def _deliver(self, claimed: queries.Claimed) -> bool:
        payload = dataclasses.replace(
            claimed.payload, source_name=self.source_names.get(claimed.payload.source_id, claimed.payload.source_id))
        notifier = self.notifiers.get(claimed.channel)
        try:
            if notifier is None:
                raise DeliveryError(f"渠道 {claimed.channel} 已不在 alerts.yaml 中 (channel no longer configured)")
            await notifier.send(payload)
        except DeliveryError as exc:
            retry_at = self.clock() + timedelta(seconds=self.backoff.delay(claimed.attempts))
            async with self.sessions() as session:
                await queries.mark_retry(session, claimed.delivery_id, retry_at, str(exc))
            log.warning("delivery failed key=%s channel=%s attempt=%s retry_at=%s reason=%s",
                        payload.idempotency_key, claimed.channel, claimed.attempts, retry_at.isoformat(), exc)
            return False
        async with self.sessions() as session:
            await queries.mark_sent(session, claimed.delivery_id, self.clock())
        log.info("delivered %s channel=%s grade=%s key=%s", type(payload).__name__, claimed.channel,
                 payload.grade, payload.idempotency_key)
        return True

    async def run(self, stop: asyncio.Event, idle_s: float = 5.0) -> None:
        """Drain until ``stop``; wakes early when a new alert is stored (``wakeup``)."""
        while not stop.is_set():
            self.wakeup.clear()
            try:
                await self.drain_once()
                async with self.sessions() as session:
                    due = await queries.next_delivery_due(session)
            except (SQLAlchemyError, OSError) as exc:  # the database locked, gone or its disk full for a while
                log.error("outbox: database unavailable, retrying in %ss reason=%s", idle_s, str(exc).splitlines()[0])
                due = None
            except Exception:  # anything else: keep the worker alive, and show where it came from
                log.exception("outbox error; retrying in %ss", idle_s)
                due = None
            wait = idle_s
            if due is not None:
                wait = min(max((due - self.clock()).total_seconds(), 0.05), idle_s)
            stop_task = asyncio.ensure_future(stop.wait())
            wake_task = asyncio.ensure_future(self.wakeup.wait())
            await asyncio.wait({stop_task, wake_task}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            stop_task.cancel()
            wake_task.cancel()
