"""Scheduled reports: generated at their cron time, kept under ``<data>/reports/``, mailed as an
attachment through an email channel of alerts.yaml — retried until sent, never sent twice.

Each (schedule, period) is one row of ``report_deliveries``: the row is written when the file is
generated, so a restart neither regenerates nor resends it (the unique key refuses a second row);
the row is claimed with a lease before sending, as the alert outbox does, so a process that died
mid-send leaves it to be sent again once the lease runs out (same Message-ID). A report whose time
passed while the daemon was down is made when it starts again, if that was within ``CATCH_UP``.

Monthly schedules may carry ``remind``: a reminder to the person on duty (their email in
``yuqing users``; the schedule's recipients when they have none) that the month's summary is due
by the 10th of the next month.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.config import AlertsFile
from alerts.deadlines import CHINA
from alerts.notifiers.email import EmailNotifier, message_id
from alerts.outbox import Backoff
from alerts.reports.figures import PERIOD_NAMES, Period, period_of
from alerts.reports.ledger import SourceInfo
from alerts.reports.output import MEDIA_TYPES, encode, keep
from alerts.reports.periodic import TITLES, ReportContext, periodic_report
from alerts.reports.roster import load_roster
from alerts.reports.settings import MONTHLY_DUE_DAY, ReportSchedule, trigger_of
from crawler.types import DeliveryError
from storage import reports as store
from storage.models import ReportDeliveryRow
from storage import workflow as people

log = logging.getLogger("yuqing.reports")

CATCH_UP = timedelta(days=7)
REMIND = "#remind"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class ServiceSettings:
    """What the service reads from the configuration; a new one after each reload."""

    alerts: AlertsFile
    institution: str
    sources: tuple[SourceInfo, ...]


def last_fire(cron: str, now: datetime, horizon: timedelta = CATCH_UP) -> datetime | None:
    """The latest time ``cron`` fired at or before ``now``, looking back ``horizon`` at most.

    APScheduler only steps forwards: look back a minute, an hour, a day, then the whole horizon,
    so that neither a cron of every minute nor one of every month walks thousands of steps.
    """
    trigger = trigger_of(cron)
    for back in (timedelta(minutes=1), timedelta(hours=1), timedelta(days=1), horizon):
        back = min(back, horizon)
        fire = trigger.get_next_fire_time(None, now - back)
        latest = None
        while fire is not None and fire <= now:
            latest = fire
            fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
        if latest is not None:
            return latest
    return None


def next_fire(cron: str, after: datetime) -> datetime | None:
    return trigger_of(cron).get_next_fire_time(None, after + timedelta(seconds=1))


def period_for(schedule: ReportSchedule, fire: datetime) -> Period:
    """The period a run at ``fire`` reports on."""
    current = period_of(schedule.kind, fire.astimezone(CHINA).date())
    return current if schedule.covers == "current" else current.previous()


def due_date(month: Period) -> date:
    """The monthly summary of ``month`` is due by the 10th of the next month."""
    return month.end.astimezone(CHINA).date().replace(day=MONTHLY_DUE_DAY)


@dataclass(frozen=True)
class ReportMail:
    """One mail: subject, text, optional attachment; ``idempotency_key`` names its Message-ID."""

    idempotency_key: str
    subject: str
    text: str
    sent_for: datetime  # the Date header: a resend carries the same date
    attachment: tuple[str, bytes] | None = None
    grade: str = "一般"


class ReportMailer(EmailNotifier):
    """The email channel's SMTP settings and error handling, with a report attached instead of an alert."""

    def build_message(self, mail: ReportMail) -> EmailMessage:  # type: ignore[override]
        message = EmailMessage(policy=SMTP)
        message["Subject"] = mail.subject
        message["From"] = self.sender
        message["To"] = ", ".join(self.to)
        message["Date"] = format_datetime(mail.sent_for)
        message["Message-ID"] = message_id(mail.idempotency_key)
        message["X-Yuqing-Idempotency-Key"] = mail.idempotency_key
        message.set_content(mail.text, charset="utf-8", cte="base64")
        if mail.attachment is not None:
            name, data = mail.attachment
            maintype, subtype = MEDIA_TYPES[name.rsplit(".", 1)[-1]].split("/")
            message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
        return message


def mail_key(schedule: str, period: str) -> str:
    return "report-" + hashlib.sha256(f"{schedule}\n{period}".encode()).hexdigest()[:24]


class ReportService:
    """Generates due reports and mails them; ``tick`` is one round, ``run`` repeats it until stopped."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], data_dir: Path,
                 settings: Callable[[], ServiceSettings], *, clock: Callable[[], datetime] = _utcnow,
                 backoff: Backoff = Backoff(base_s=60.0, max_s=3600.0)) -> None:
        self.sessions = sessions
        self.data_dir = data_dir
        self.settings = settings
        self.clock = clock
        self.backoff = backoff

    async def tick(self, now: datetime | None = None) -> int:
        """Generate what is due and send what is pending; returns the mails sent."""
        now = now or self.clock()
        settings = self.settings()
        for schedule in settings.alerts.reports:
            fire = last_fire(schedule.cron, now)
            if fire is not None:
                await self._generate(schedule, fire, settings, now)
            if schedule.remind:
                fire = last_fire(schedule.remind, now)
                if fire is not None:
                    await self._remind(schedule, fire, settings, now)
        return await self.send_due(now)

    async def _generate(self, schedule: ReportSchedule, fire: datetime, settings: ServiceSettings,
                        now: datetime) -> None:
        period = period_for(schedule, fire)
        async with self.sessions() as session:
            if await store.report_delivery_exists(session, schedule.key, period.key):
                return
            ctx = ReportContext(settings.institution, settings.sources, settings.alerts.deadlines, now)
            report, _ = await periodic_report(session, schedule.kind, period.first_day, ctx)
            path = keep(encode(report, schedule.format), self.data_dir, report, schedule.format)
            added = await store.add_report_delivery(session, schedule=schedule.key, kind=schedule.kind,
                                                    period=period.key, path=str(path), recipients=schedule.to, now=now)
        if added is not None:
            log.info("report generated schedule=%s period=%s file=%s", schedule.key, period.key, path)

    async def _remind(self, schedule: ReportSchedule, fire: datetime, settings: ServiceSettings,
                      now: datetime) -> None:
        month = period_of("monthly", fire.astimezone(CHINA).date()).previous()
        key = schedule.key + REMIND
        async with self.sessions() as session:
            if await store.report_delivery_exists(session, key, month.key):
                return
            roster = await load_roster(session, {month.key})
            on_duty = roster.people(month.key)
            emails = []
            for name in on_duty:
                try:
                    person = await people.find_user(session, name)
                except people.NotFound:
                    continue
                if person.email:
                    emails.append(person.email)
            await store.add_report_delivery(session, schedule=key, kind="reminder", period=month.key, path=None,
                                            recipients=emails or schedule.to, now=now)
        log.info("monthly reminder queued month=%s on_duty=%s", month.key, ",".join(on_duty) or "-")

    async def send_due(self, now: datetime) -> int:
        settings = self.settings()
        async with self.sessions() as session:
            claimed = await store.claim_report_deliveries(session, now, lease_s=120.0)
        sent = 0
        for row in claimed:
            try:
                mail, schedule = await self._mail(row, settings)
                mailer = ReportMailer.from_channel(settings.alerts.report_channel(schedule))
                mailer.to = tuple(row.recipients)
                await mailer.send(mail)  # type: ignore[arg-type]
            except (DeliveryError, OSError, LookupError) as exc:
                retry_at = now + timedelta(seconds=self.backoff.delay(row.attempts))
                async with self.sessions() as session:
                    await store.mark_report_retry(session, row.id, retry_at, str(exc))
                log.warning("report mail failed schedule=%s period=%s attempt=%s retry_at=%s reason=%s",
                            row.schedule, row.period, row.attempts, retry_at.isoformat(), exc)
                continue
            async with self.sessions() as session:
                await store.mark_report_sent(session, row.id, self.clock())
            sent += 1
            log.info("report mailed schedule=%s period=%s to=%s", row.schedule, row.period, ",".join(row.recipients))
        return sent

    async def _mail(self, row: ReportDeliveryRow, settings: ServiceSettings) -> tuple[ReportMail, ReportSchedule]:
        base = row.schedule.removesuffix(REMIND)
        schedule = next((s for s in settings.alerts.reports if s.key == base), None)
        if schedule is None:
            raise LookupError(f"报表计划 {base} 已不在 alerts.yaml 中 (schedule no longer configured)")
        key = mail_key(row.schedule, row.period)
        if row.kind == "reminder":
            month = period_of("monthly", date.fromisoformat(row.period + "-01"))
            nxt = next_fire(schedule.cron, row.created_at)
            due = due_date(month)
            async with self.sessions() as session:
                on_duty = "、".join((await load_roster(session, {row.period})).people(row.period)) or "（未排班）"
            text = (f"{settings.institution}：\n\n{month.label}的舆情月报（含值班小结）须于 {due.month}月{due.day}日前报送。\n"
                    f"{month.label}值班人：{on_duty}。请核对巡查台账、填写值班小结并签字。\n"
                    + (f"系统将于 {nxt.astimezone(CHINA):%Y-%m-%d %H:%M} 自动生成月报并发送。\n" if nxt else "")
                    + "\n—— 舆情监测系统 yuqing")
            return ReportMail(key, f"【提醒】{month.label}舆情月报须于{due.month}月{due.day}日前报送", text,
                              row.created_at), schedule
        path = Path(row.path or "")
        data = path.read_bytes()  # OSError: kept file gone, retried (and logged) like a failed send
        title = TITLES[row.kind]
        text = (f"{settings.institution}{title}（{row.period}）见附件 {path.name}。\n\n"
                f"本邮件由舆情监测系统 yuqing 按计划「{schedule.key}」自动发送；文件同时保存在 {path}。")
        return ReportMail(key, f"【{PERIOD_NAMES.get(row.kind, '')}】{settings.institution}{title} {row.period}", text,
                          row.created_at, (path.name, data)), schedule

    async def run(self, stop: asyncio.Event, idle_s: float = 30.0) -> None:
        """Tick until ``stop``; a broken round (database busy, disk full) is logged and tried again."""
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("report service error; retrying in %ss", idle_s)
            try:
                await asyncio.wait_for(stop.wait(), timeout=idle_s)
            except TimeoutError:
                pass


def schedules_summary(schedules: Sequence[ReportSchedule], now: datetime) -> list[tuple[str, str, str]]:
    """(schedule, kind, next run in Beijing time) for ``yuqing report schedules``."""
    out = []
    for s in schedules:
        nxt = next_fire(s.cron, now)
        out.append((s.key, TITLES[s.kind], f"{nxt.astimezone(CHINA):%Y-%m-%d %H:%M}" if nxt else "—"))
    return out

