"""Deadline reminders and escalation: the machine that makes 2 h / 24 h / 48 h mean something.

Before a deadline (``remind_before``) the case's channels get one reminder; once it has passed
with its step undone, the next level up (``escalate_to``, by default every channel that takes
重大 — the leader's) is told, again every ``escalate_every`` until the step is done. Each
reminder and escalation is an audit-log entry written in the same transaction as its notice, so
the record of who was chased, and when, cannot be lost or doubled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.deadlines import DONE_IN, LABELS, DeadlineSettings
from alerts.workflow import OPEN_STATES, case_deadlines
from storage import queries
from storage import workflow as store

log = logging.getLogger("yuqing.escalation")

ACTOR = "system"
CHINA = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Chase:
    """One reminder or escalation due now."""

    alert_id: int
    action: str  # remind | escalate
    kind: str  # which deadline (report, form, dispatch, …)
    due: datetime
    round: int  # 1 for the first escalation of this deadline, 2 for the repeat, …


def due_chases(case: store.Case, settings: DeadlineSettings, history: list[store.AuditEntry],
               now: datetime) -> list[Chase]:
    """What this case needs at ``now`` (pure: the decision table of reminders and escalations)."""
    out = []
    for kind, due in case_deadlines(case, settings).items():
        if case.state in DONE_IN[kind]:
            continue
        done = [e for e in history if (e.detail or {}).get("deadline") == kind]
        escalations = [e for e in done if e.action == "escalate"]
        if now > due:
            last = escalations[-1].at if escalations else None
            if last is None or now - last >= timedelta(seconds=settings.escalate_every):
                out.append(Chase(case.alert_id, "escalate", kind, due, len(escalations) + 1))
        elif now >= due - timedelta(seconds=settings.remind_before) and not any(e.action == "remind" for e in done):
            out.append(Chase(case.alert_id, "remind", kind, due, 1))
    return out


def _message(case: store.Case, chase: Chase) -> str:
    label = LABELS[chase.kind]
    when = f"{chase.due.astimezone(CHINA):%m-%d %H:%M}"
    if chase.action == "remind":
        return f"告警 #{case.alert_id}（{case.grade}·{case.category}）「{label}」将于 {when} 到期：{case.title}"
    return (f"告警 #{case.alert_id}（{case.grade}·{case.category}）「{label}」已于 {when} 超时"
            f"（第 {chase.round} 次督办），当前状态 {case.state}：{case.title}")


class Escalator:
    """Runs ``tick`` every ``every_s`` seconds inside the daemon."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Callable[[], DeadlineSettings],
                 case_channels: Callable[[str], list[str]], escalation_channels: Callable[[], list[str]],
                 on_notice: Callable[[], None] = lambda: None) -> None:
        self.sessions = sessions
        self.settings = settings  # a callable: hot reloads change the deadlines
        self.case_channels = case_channels
        self.escalation_channels = escalation_channels
        self.on_notice = on_notice

    async def tick(self, now: datetime | None = None) -> list[Chase]:
        now = now or datetime.now(timezone.utc)
        settings = self.settings()
        async with self.sessions() as session:
            cases = await store.list_cases(session, states=OPEN_STATES)
        sent: list[Chase] = []
        for case in cases:
            async with self.sessions() as session:
                history = [e async for e in store.audit_entries(session, case.alert_id)]
            for chase in due_chases(case, settings, history, now):
                await self._record(case, chase, now)
                sent.append(chase)
        if sent:
            self.on_notice()
        return sent

    async def _record(self, case: store.Case, chase: Chase, now: datetime) -> None:
        message = _message(case, chase)
        kind = "reminder" if chase.action == "remind" else "escalation"
        channels = self.case_channels(case.grade) if chase.action == "remind" else self.escalation_channels()
        async with self.sessions() as session, store.write_transaction(session):
            await store.append_audit(
                session, at=now, actor=ACTOR, alert_id=case.alert_id, action=chase.action, from_state=case.state,
                to_state=case.state, note=message,
                detail={"deadline": chase.kind, "due": chase.due.isoformat(), "round": chase.round})
            await queries.add_notice(
                session, key=f"{case.alert_id}\n{chase.action}\n{chase.kind}\n{chase.round}", kind=kind,
                source_id=case.source_id, message=message, url=case.url, now=now, channels=channels)
        log.warning("%s alert=%s deadline=%s round=%s", chase.action, case.alert_id, chase.kind, chase.round)

    async def run(self, stop: asyncio.Event, every_s: float = 60.0) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # the database may be busy for a while: try again next round
                log.exception("escalation round failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=every_s)
            except TimeoutError:
                pass
