"""The tables. Times are stored as UTC (naive in the database, aware in Python)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# SQLite has no 64-bit autoincrement type distinct from INTEGER: keep BigInteger on PostgreSQL only.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in Python, naive UTC in the column, on SQLite and PostgreSQL alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=timezone.utc) if value is not None else None


class Base(DeclarativeBase):
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime()}


class FetchState(Base):
    """Conditional-GET validators and the last outcome, per URL."""

    __tablename__ = "fetch_state"
    url: Mapped[str] = mapped_column(String(2048), primary_key=True)
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(128))
    last_status: Mapped[int | None]
    last_fetched_at: Mapped[datetime | None]


class LinkState(Base):
    """A link a list page gave that was followed: an article fetched under another URL (a redirect),
    or a forum thread with the version the list showed (reply count) and the last page read, so
    an unchanged thread is not fetched again and an updated one is read on from where it ended."""

    __tablename__ = "link_state"
    url: Mapped[str] = mapped_column(String(2048), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[str | None] = mapped_column(String(64))  # NULL: read again at the next patrol
    page: Mapped[int | None]
    page_url: Mapped[str | None] = mapped_column(String(2048))
    seen_at: Mapped[datetime]


class ItemRow(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    source_id: Mapped[str] = mapped_column(String(64), index=True)
    parent_url: Mapped[str | None] = mapped_column(String(2048))
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(256))
    published_at: Mapped[datetime | None]
    fetched_at: Mapped[datetime]
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    body_sha256: Mapped[str | None] = mapped_column(String(64))  # of the raw response the item came from
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))


class HitRow(Base):
    __tablename__ = "hits"
    __table_args__ = (UniqueConstraint("item_id", "rule_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    rule_id: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(64))
    grade: Mapped[str] = mapped_column(String(16))
    terms: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{term, field, start, end}]
    snippet: Mapped[str] = mapped_column(Text)
    found_at: Mapped[datetime] = mapped_column(index=True)


class IncidentRow(Base):
    """One story and its reposts across sites; triage follows its first alert (the primary case)."""

    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    primary_alert_id: Mapped[int | None] = mapped_column(Id)  # not a foreign key: alerts refer to incidents
    title: Mapped[str] = mapped_column(Text)
    sketch: Mapped[list[int]] = mapped_column(JSON)  # crawler.dedup bottom-k MinHash of the first copy
    created_at: Mapped[datetime] = mapped_column(index=True)


class AlertRow(Base):
    """One alert per hit, written in the hit's transaction (the outbox)."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    hit_id: Mapped[int] = mapped_column(ForeignKey("hits.id"), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    grade: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="new")
    created_at: Mapped[datetime]
    # The triage workflow (alerts.workflow): current facts of the case; its history is the audit log.
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    emergency: Mapped[bool] = mapped_column(default=False, server_default="0")  # "0" is false on both backends
    emergency_at: Mapped[datetime | None]
    emergency_by: Mapped[str | None] = mapped_column(String(64))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    reply_text: Mapped[str | None] = mapped_column(Text)
    closing_report: Mapped[str | None] = mapped_column(Text)
    # Due times (alerts.deadlines), NULL where the grade sets none or the workflow has not yet seen the alert.
    report_due_at: Mapped[datetime | None]
    form_due_at: Mapped[datetime | None]
    dispatch_due_at: Mapped[datetime | None]
    dispatch_latest_due_at: Mapped[datetime | None]
    result_due_at: Mapped[datetime | None]
    result_latest_due_at: Mapped[datetime | None]
    reply_due_at: Mapped[datetime | None]


class NoticeRow(Base):
    """A change in a source's health (down / recovered), delivered through the same outbox."""

    __tablename__ = "notices"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # source_down | source_up
    source_id: Mapped[str] = mapped_column(String(64), index=True)
    message: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(String(2048))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    created_at: Mapped[datetime]


class DeliveryRow(Base):
    """One alert (or notice) on one channel: pending → sending → sent (or back to pending with a backoff)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "channel"),
        UniqueConstraint("notice_id", "channel"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"))
    channel: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]


class RunRow(Base):
    """One run of one source: the patrol ledger (巡查台账)."""

    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_source_window", "source_id", "window_start"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(16))  # window | catchup | manual
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | ok | failed | partial | aborted
    fetched: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    items: Mapped[int] = mapped_column(default=0)
    new_items: Mapped[int] = mapped_column(default=0)
    hits: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)


class DepartmentRow(Base):
    """A 责任部门: where alerts are dispatched, whom to call, which alerts.yaml channels reach it."""

    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    contacts: Mapped[list[str]] = mapped_column(JSON, default=list)  # free text: "王主任 13800000000"
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)  # channel keys in alerts.yaml
    created_at: Mapped[datetime]


class UserRow(Base):
    """A person who acts in the workflow; the role decides what they may do (alerts.workflow)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # admin | operator | leader | department | informant
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    email: Mapped[str | None] = mapped_column(String(256))
    phone: Mapped[str | None] = mapped_column(String(64))
    password_hash: Mapped[str | None] = mapped_column(String(256))  # argon2; NULL: command line only
    created_at: Mapped[datetime]


class AuditRow(Base):
    """The append-only, hash-chained audit log (storage.workflow); triggers refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=False)  # 1, 2, 3 … without gaps
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # e.g. department and due of a dispatch
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class DutyRow(Base):
    """Who is on duty (值班) in one month for one patrol window; window ``*`` covers every window."""

    __tablename__ = "duty_roster"
    __table_args__ = (UniqueConstraint("month", "window"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    month: Mapped[str] = mapped_column(String(7))  # 2026-11
    window: Mapped[str] = mapped_column(String(16))  # 13:00-14:00 | *
    person: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class ReportDeliveryRow(Base):
    """One scheduled report (or reminder) for one period: generated once, mailed until sent, never twice."""

    __tablename__ = "report_deliveries"
    __table_args__ = (UniqueConstraint("schedule", "period"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    schedule: Mapped[str] = mapped_column(String(64))  # the schedule's name in alerts.yaml
    kind: Mapped[str] = mapped_column(String(16))  # daily | weekly | monthly | annual | reminder
    period: Mapped[str] = mapped_column(String(32))  # 2026-11-30 | 2026-W48 | 2026-11 | 2026
    path: Mapped[str | None] = mapped_column(String(1024))  # the kept file, under <data>/reports/
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
