"""The SQL of reports and statistics: the patrol ledger's runs, case milestones, the duty roster,
incidents, and the record of scheduled report mails (what was sent, so nothing goes twice)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AlertRow, AuditRow, DutyRow, HitRow, IncidentRow, ItemRow, ReportDeliveryRow, RunRow


# --- runs: the patrol ledger ---------------------------------------------------------------------

async def runs_between(session: AsyncSession, since: datetime, until: datetime) -> list[RunRow]:
    """Runs of windows opening in [since, until), and runs without a window started then (manual)."""
    query = select(RunRow).where(or_(
        and_(RunRow.window_start >= since, RunRow.window_start < until),
        and_(RunRow.window_start.is_(None), RunRow.started_at >= since, RunRow.started_at < until),
    )).order_by(RunRow.started_at, RunRow.id)
    return list((await session.scalars(query)).all())


async def alerts_per_run(session: AsyncSession, run_ids: Iterable[int]) -> dict[int, int]:
    """How many alerts each run raised (its items' hits' alerts)."""
    ids = list(dict.fromkeys(run_ids))
    out: dict[int, int] = {}
    for i in range(0, len(ids), 500):
        rows = await session.execute(
            select(ItemRow.run_id, func.count(AlertRow.id)).join(HitRow, HitRow.item_id == ItemRow.id)
            .join(AlertRow, AlertRow.hit_id == HitRow.id).where(ItemRow.run_id.in_(ids[i:i + 500]))
            .group_by(ItemRow.run_id))
        out.update((int(run_id), int(n)) for run_id, n in rows.all())
    return out


# --- cases: when each step happened --------------------------------------------------------------

@dataclass(frozen=True)
class Milestone:
    alert_id: int
    action: str
    to_state: str | None
    at: datetime
    detail: dict[str, object] | None


async def milestones(session: AsyncSession, alert_ids: Iterable[int]) -> dict[int, list[Milestone]]:
    """Each alert's audit entries, oldest first: when it was reported, dispatched, replied, closed."""
    ids = list(dict.fromkeys(alert_ids))
    out: dict[int, list[Milestone]] = {alert_id: [] for alert_id in ids}
    for i in range(0, len(ids), 500):
        rows = await session.execute(
            select(AuditRow.alert_id, AuditRow.action, AuditRow.to_state, AuditRow.at, AuditRow.detail)
            .where(AuditRow.alert_id.in_(ids[i:i + 500])).order_by(AuditRow.seq))
        for alert_id, action, to_state, at, detail in rows.all():
            out[alert_id].append(Milestone(alert_id, action, to_state, at, detail))
    return out


async def reposts(session: AsyncSession) -> set[int]:
    """Alerts that are reposts of an incident's story (not its primary alert): lines of its
    propagation path, not cases of their own, so reports count each incident once."""
    rows = await session.scalars(
        select(AlertRow.id).join(IncidentRow, AlertRow.incident_id == IncidentRow.id)
        .where(IncidentRow.primary_alert_id.is_not(None), IncidentRow.primary_alert_id != AlertRow.id))
    return set(rows.all())


async def incident(session: AsyncSession, incident_id: int) -> tuple[IncidentRow, int] | None:
    """An incident and the alert its triage follows (the primary, else its first alert); None if absent."""
    row = await session.get(IncidentRow, incident_id)
    if row is None:
        return None
    primary = row.primary_alert_id or await session.scalar(
        select(AlertRow.id).where(AlertRow.incident_id == incident_id).order_by(AlertRow.created_at, AlertRow.id)
        .limit(1))
    return (row, primary) if primary is not None else None


# --- the duty roster -----------------------------------------------------------------------------

async def set_duty(session: AsyncSession, month: str, window: str, person: str, now: datetime) -> None:
    """Who is on duty in ``month`` for ``window`` (``*``: every window); replaces an earlier entry. Not committed."""
    await session.execute(delete(DutyRow).where(DutyRow.month == month, DutyRow.window == window))
    session.add(DutyRow(month=month, window=window, person=person, created_at=now))
    await session.flush()


async def clear_duty(session: AsyncSession, months: Iterable[str]) -> None:
    await session.execute(delete(DutyRow).where(DutyRow.month.in_(list(months))))


async def duty_entries(session: AsyncSession, months: Iterable[str] | None = None) -> list[DutyRow]:
    query = select(DutyRow).order_by(DutyRow.month, DutyRow.window)
    if months is not None:
        query = query.where(DutyRow.month.in_(list(months)))
    return list((await session.scalars(query)).all())


# --- scheduled report mails ----------------------------------------------------------------------

async def add_report_delivery(session: AsyncSession, *, schedule: str, kind: str, period: str, path: str | None,
                              recipients: Sequence[str], now: datetime) -> int | None:
    """Record a generated report to be mailed; None when this schedule already has this period."""
    row = ReportDeliveryRow(schedule=schedule, kind=kind, period=period, path=path, recipients=list(recipients),
                            status="pending", attempts=0, next_attempt_at=now, created_at=now)
    session.add(row)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return None
    return row.id


async def report_delivery_exists(session: AsyncSession, schedule: str, period: str) -> bool:
    found = await session.scalar(select(ReportDeliveryRow.id).where(
        ReportDeliveryRow.schedule == schedule, ReportDeliveryRow.period == period))
    return found is not None


async def claim_report_deliveries(session: AsyncSession, now: datetime, lease_s: float) -> list[ReportDeliveryRow]:
    """Due mails, each claimed by a conditional UPDATE with a lease, so two processes never send one twice
    at once and a process that died mid-send leaves the row to be sent again after the lease."""
    due = (await session.scalars(select(ReportDeliveryRow).where(
        ReportDeliveryRow.status.in_(("pending", "sending")), ReportDeliveryRow.next_attempt_at <= now)
        .order_by(ReportDeliveryRow.next_attempt_at, ReportDeliveryRow.id))).all()
    claimed: list[int] = []
    for row in due:
        result = await session.execute(update(ReportDeliveryRow).where(
            ReportDeliveryRow.id == row.id, ReportDeliveryRow.status.in_(("pending", "sending")),
            ReportDeliveryRow.next_attempt_at <= now).values(
            status="sending", attempts=ReportDeliveryRow.attempts + 1,
            next_attempt_at=now + timedelta(seconds=lease_s)))
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(row.id)
    await session.commit()
    if not claimed:
        return []
    return list((await session.scalars(select(ReportDeliveryRow).where(ReportDeliveryRow.id.in_(claimed))
                                       .order_by(ReportDeliveryRow.id).execution_options(populate_existing=True))).all())


async def mark_report_sent(session: AsyncSession, delivery_id: int, now: datetime) -> None:
    await session.execute(update(ReportDeliveryRow).where(ReportDeliveryRow.id == delivery_id)
                          .values(status="sent", sent_at=now, last_error=None))
    await session.commit()


async def mark_report_retry(session: AsyncSession, delivery_id: int, retry_at: datetime, error: str) -> None:
    await session.execute(update(ReportDeliveryRow).where(ReportDeliveryRow.id == delivery_id)
                          .values(status="pending", next_attempt_at=retry_at, last_error=error[:2000]))
    await session.commit()


async def next_report_due(session: AsyncSession) -> datetime | None:
    return await session.scalar(select(func.min(ReportDeliveryRow.next_attempt_at)).where(
        ReportDeliveryRow.status.in_(("pending", "sending"))))


async def report_deliveries(session: AsyncSession) -> list[ReportDeliveryRow]:
    return list((await session.scalars(select(ReportDeliveryRow).order_by(ReportDeliveryRow.id))).all())
