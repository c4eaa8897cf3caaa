"""The SQL of the triage workflow: cases (alerts as the desk sees them), people, the audit log.

Writers that must leave an audit entry run inside ``write_transaction``, which serialises them
over the whole database — ``BEGIN IMMEDIATE`` on SQLite, a transaction-scoped advisory lock on
PostgreSQL — so the next entry always chains to the true last one and two writers cannot fork the
chain. The ``seq`` primary key (1, 2, 3 … assigned here) is the backstop: a second entry with the
same predecessor cannot be stored.

The chain: ``hash`` = SHA-256 of the canonical JSON (sorted keys, no spaces, UTF-8) of every
other field of the entry, ``prev_hash`` included; times as UTC ISO 8601 with microseconds. The
first entry's ``prev_hash`` is 64 zeros.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AlertRow, AuditRow, DepartmentRow, HitRow, IncidentRow, ItemRow, UserRow

GENESIS = "0" * 64
AUDIT_LOCK_KEY = 0x79_75_71_69_6E_67  # "yuqing" in ASCII: the advisory lock of the audit chain (PostgreSQL)
DUE_KINDS = ("report", "form", "dispatch", "dispatch_latest", "result", "result_latest", "reply")


class NotFound(LookupError):
    """An alert, user or department named on the command line that does not exist."""


class AlreadyExists(ValueError):
    """A user or department name that is taken."""


@asynccontextmanager
async def write_transaction(session: AsyncSession) -> AsyncIterator[None]:
    """One serialised write transaction: commit on success, roll back on any error.

    It must open the session's transaction, so that every read inside it (the alert's state, the
    last audit entry) happens under the lock and cannot be stale.
    """
    if session.in_transaction():
        raise RuntimeError("write_transaction must begin the session's transaction (commit or roll back first)")
    try:
        if session.get_bind().dialect.name == "sqlite":
            # pysqlite would BEGIN (deferred) only at the first write; IMMEDIATE takes the write lock now.
            await session.execute(text("BEGIN IMMEDIATE"))
        else:
            await session.execute(select(func.pg_advisory_xact_lock(AUDIT_LOCK_KEY)))
        yield
        await session.commit()
    except BaseException:
        await session.rollback()
        raise


# --- cases -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """An alert with its hit, item and department: what the desk shows and the workflow decides on."""

    alert_id: int
    state: str
    grade: str
    found_at: datetime  # the alert is created in the hit's transaction: this is the discovery time
    emergency: bool
    emergency_at: datetime | None
    emergency_by: str | None
    department_id: int | None
    department: str | None
    due: Mapping[str, datetime | None]  # DUE_KINDS → due time
    reply_text: str | None
    closing_report: str | None
    title: str
    url: str
    source_id: str
    category: str
    rule_id: str
    terms: list[str]
    snippet: str
    published_at: datetime | None
    author: str | None
    incident_id: int | None = None
    # The incident's primary alert when this one is a repost of its story: the primary carries the
    # case (grade, deadlines, state); a repost is a line in the propagation path.
    copy_of: int | None = None


_CASES = (
    select(AlertRow, HitRow, ItemRow, DepartmentRow.name, IncidentRow.primary_alert_id)
    .join(HitRow, AlertRow.hit_id == HitRow.id)
    .join(ItemRow, HitRow.item_id == ItemRow.id)
    .outerjoin(DepartmentRow, AlertRow.department_id == DepartmentRow.id)
    .outerjoin(IncidentRow, AlertRow.incident_id == IncidentRow.id)
)
# A primary case: in no incident (alerts from before incidents existed) or its incident's first.
_PRIMARY = or_(IncidentRow.primary_alert_id.is_(None), IncidentRow.primary_alert_id == AlertRow.id)


def _case(row: Sequence[Any]) -> Case:
    alert, hit, item, department, primary = row
    return Case(
        alert_id=alert.id, state=alert.state, grade=alert.grade, found_at=alert.created_at,
        emergency=alert.emergency, emergency_at=alert.emergency_at, emergency_by=alert.emergency_by,
        department_id=alert.department_id, department=department,
        due={kind: getattr(alert, f"{kind}_due_at") for kind in DUE_KINDS},
        reply_text=alert.reply_text, closing_report=alert.closing_report,
        title=item.title, url=item.url, source_id=item.source_id, category=hit.category, rule_id=hit.rule_id,
        terms=sorted({t["term"] for t in hit.terms}), snippet=hit.snippet, published_at=item.published_at,
        author=item.author, incident_id=alert.incident_id,
        copy_of=primary if primary is not None and primary != alert.id else None,
    )


async def load_case(session: AsyncSession, alert_id: int, *, lock: bool = False) -> Case:
    """One case; ``lock`` holds the alert row (PostgreSQL) until the transaction ends."""
    query = _CASES.where(AlertRow.id == alert_id)
    if lock:
        query = query.with_for_update(of=AlertRow)
    row = (await session.execute(query)).one_or_none()
    if row is None:
        raise NotFound(f"告警 {alert_id} 不存在 (no alert {alert_id})")
    return _case(row)


async def list_cases(session: AsyncSession, states: Collection[str] | None = None,
                     limit: int | None = None, *, reposts: bool = False) -> list[Case]:
    """Newest first; ``states`` None means every state. Reposts (``Case.copy_of``) are left out
    unless asked for: their incident's primary case is the one to work."""
    query = _CASES.order_by(AlertRow.created_at.desc(), AlertRow.id.desc()).limit(limit)
    if not reposts:
        query = query.where(_PRIMARY)
    if states is not None:
        query = query.where(AlertRow.state.in_(list(states)))
    return [_case(row) for row in (await session.execute(query)).all()]


@dataclass(frozen=True)
class CaseUpdate:
    """New facts of a case; None leaves a field as it is. ``due`` replaces the listed kinds."""

    state: str | None = None
    grade: str | None = None
    department_id: int | None = None
    reply_text: str | None = None
    closing_report: str | None = None
    emergency_at: datetime | None = None  # also sets the emergency flag
    emergency_by: str | None = None
    due: Mapping[str, datetime | None] = field(default_factory=dict)


async def update_case(session: AsyncSession, alert_id: int, change: CaseUpdate) -> None:
    values: dict[str, Any] = {name: value for name, value in asdict(change).items()
                              if name != "due" and value is not None}
    if change.emergency_at is not None:
        values["emergency"] = True
    unknown = set(change.due) - set(DUE_KINDS)
    if unknown:
        raise ValueError(f"unknown deadline kinds: {sorted(unknown)}")
    values.update({f"{kind}_due_at": due for kind, due in change.due.items()})
    if values:
        await session.execute(update(AlertRow).where(AlertRow.id == alert_id).values(**values))


# --- people ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Department:
    department_id: int
    name: str
    contacts: list[str]
    channels: list[str]
    created_at: datetime


@dataclass(frozen=True)
class Person:
    user_id: int
    name: str
    role: str
    department_id: int | None
    department: str | None
    email: str | None
    phone: str | None
    password_hash: str | None = field(repr=False)
    created_at: datetime


def _department(row: DepartmentRow) -> Department:
    return Department(row.id, row.name, list(row.contacts), list(row.channels), row.created_at)


def _person(row: UserRow, department: str | None) -> Person:
    return Person(row.id, row.name, row.role, row.department_id, department, row.email, row.phone,
                  row.password_hash, row.created_at)


_PEOPLE = select(UserRow, DepartmentRow.name).outerjoin(DepartmentRow, UserRow.department_id == DepartmentRow.id)


async def find_department(session: AsyncSession, name: str) -> Department:
    row = await session.scalar(select(DepartmentRow).where(DepartmentRow.name == name))
    if row is None:
        raise NotFound(f"部门「{name}」不存在，请先用 yuqing departments add 添加 (no department {name!r})")
    return _department(row)


async def list_departments(session: AsyncSession) -> list[Department]:
    rows = await session.scalars(select(DepartmentRow).order_by(DepartmentRow.name))
    return [_department(row) for row in rows]


async def insert_department(session: AsyncSession, *, name: str, contacts: list[str], channels: list[str],
                            now: datetime) -> Department:
    if await session.scalar(select(DepartmentRow.id).where(DepartmentRow.name == name)) is not None:
        raise AlreadyExists(f"部门「{name}」已存在 (department {name!r} exists)")
    row = DepartmentRow(name=name, contacts=contacts, channels=channels, created_at=now)
    session.add(row)
    await session.flush()
    return _department(row)


async def find_user(session: AsyncSession, name: str) -> Person:
    row = (await session.execute(_PEOPLE.where(UserRow.name == name))).one_or_none()
    if row is None:
        raise NotFound(f"用户「{name}」不存在，请先用 yuqing users add 添加 (no user {name!r})")
    return _person(*row)


async def list_users(session: AsyncSession) -> list[Person]:
    return [_person(*row) for row in (await session.execute(_PEOPLE.order_by(UserRow.name))).all()]


async def insert_user(session: AsyncSession, *, name: str, role: str, department: Department | None,
                      email: str | None, phone: str | None, password_hash: str | None, now: datetime) -> Person:
    if await session.scalar(select(UserRow.id).where(UserRow.name == name)) is not None:
        raise AlreadyExists(f"用户「{name}」已存在 (user {name!r} exists)")
    row = UserRow(name=name, role=role, department_id=department.department_id if department else None,
                  email=email, phone=phone, password_hash=password_hash, created_at=now)
    session.add(row)
    await session.flush()
    return _person(row, department.name if department else None)


# --- the audit log -----------------------------------------------------------------------------

@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime  # aware UTC
    actor: str
    alert_id: int | None
    action: str
    from_state: str | None
    to_state: str | None
    note: str | None
    detail: dict[str, Any] | None  # JSON values only: str, int, bool, None, lists
    prev_hash: str
    hash: str


def entry_hash(entry: AuditEntry) -> str:
    """What ``hash`` must be for this entry: SHA-256 over every other field, ``prev_hash`` included."""
    fields = asdict(entry)
    del fields["hash"]
    fields["at"] = entry.at.astimezone(timezone.utc).isoformat(timespec="microseconds")
    canonical = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(row.seq, row.at, row.actor, row.alert_id, row.action, row.from_state, row.to_state, row.note,
                      row.detail, row.prev_hash, row.hash)


async def append_audit(
    session: AsyncSession, *, at: datetime, actor: str, action: str, alert_id: int | None = None,
    from_state: str | None = None, to_state: str | None = None, note: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """The next entry of the chain; call it inside ``write_transaction``."""
    last = (await session.execute(select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1))).first()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
    draft = AuditEntry(seq, at.astimezone(timezone.utc), actor, alert_id, action, from_state, to_state, note, detail,
                       prev_hash, "")
    entry = replace(draft, hash=entry_hash(draft))
    session.add(AuditRow(**asdict(entry)))
    await session.flush()
    return entry


async def audit_entries(session: AsyncSession, alert_id: int | None = None,
                        batch: int = 1000) -> AsyncIterator[AuditEntry]:
    """Entries in chain order, read in batches so a years-long log never sits in memory twice."""
    after = 0
    while True:
        query = select(AuditRow).where(AuditRow.seq > after).order_by(AuditRow.seq).limit(batch)
        if alert_id is not None:
            query = query.where(AuditRow.alert_id == alert_id)
        rows = list(await session.scalars(query))
        for row in rows:
            yield _entry(row)
        if len(rows) < batch:
            return
        after = rows[-1].seq


async def unaudited_states(session: AsyncSession) -> list[tuple[int, str, str | None]]:
    """Alerts whose state is not the one their last audit entry records: (alert, state, audited state).

    Every workflow write records the resulting state, so a mismatch means entries were removed
    (e.g. the tail of the log, which the chain alone cannot notice) or a state written around
    the workflow. Alerts still ``new`` without entries are consistent.
    """
    last = (select(AuditRow.alert_id, func.max(AuditRow.seq).label("seq"))
            .where(AuditRow.alert_id.is_not(None)).group_by(AuditRow.alert_id).subquery())
    rows = await session.execute(
        select(AlertRow.id, AlertRow.state, AuditRow.to_state)
        .outerjoin(last, last.c.alert_id == AlertRow.id)
        .outerjoin(AuditRow, AuditRow.seq == last.c.seq)
        .where(AlertRow.state != func.coalesce(AuditRow.to_state, "new"))
        .order_by(AlertRow.id)
    )
    return [(alert_id, state, audited) for alert_id, state, audited in rows.all()]


# --- case files (the official forms) ------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """One audit entry of a case, with the role its actor holds (None: no such user, e.g. ``cli:root``).

    The role is the user's current one: the users table keeps no history of roles.
    """

    entry: AuditEntry
    role: str | None


@dataclass(frozen=True)
class Copy:
    """One copy of the case's story (an alert of the same incident): the propagation path."""

    alert_id: int
    source_id: str
    url: str
    title: str
    found_at: datetime
    published_at: datetime | None


@dataclass(frozen=True)
class CaseFile:
    """Everything the official forms (alerts.forms) show of one case: the case, the item's text and
    fetch time, the department's contacts, the case's history from the audit log (oldest first)
    and, when the alert belongs to an incident, every copy of the story in order of discovery."""

    case: Case
    text: str
    fetched_at: datetime
    department_contacts: tuple[str, ...]
    history: tuple[Step, ...]
    copies: tuple[Copy, ...] = ()


async def load_case_file(session: AsyncSession, alert_id: int) -> CaseFile:
    """One case with its text and history; NotFound when there is no such alert."""
    case = await load_case(session, alert_id)
    text, fetched_at, incident_id = (await session.execute(
        select(ItemRow.text, ItemRow.fetched_at, AlertRow.incident_id).join(HitRow, HitRow.item_id == ItemRow.id)
        .join(AlertRow, AlertRow.hit_id == HitRow.id).where(AlertRow.id == alert_id))).one()
    contacts: list[str] = []
    if case.department_id is not None:
        contacts = list(await session.scalar(
            select(DepartmentRow.contacts).where(DepartmentRow.id == case.department_id)) or [])
    rows = await session.execute(
        select(AuditRow, UserRow.role).outerjoin(UserRow, UserRow.name == AuditRow.actor)
        .where(AuditRow.alert_id == alert_id).order_by(AuditRow.seq))
    history = tuple(Step(_entry(row), role) for row, role in rows.all())
    copies = await incident_copies(session, incident_id) if incident_id is not None else ()
    return CaseFile(case, text, fetched_at, tuple(contacts), history, copies)


# --- incidents ---------------------------------------------------------------------------------

async def incident_copies(session: AsyncSession, incident_id: int) -> tuple[Copy, ...]:
    """Every page carrying the incident's story, in order of discovery."""
    found = await list_incidents(session, incident_id=incident_id)
    return found[0].copies if found else ()


async def split_incident(session: AsyncSession, alert_id: int, *, sketch: list[int], now: datetime) -> int:
    """Move the page of ``alert_id`` (all its alerts) into a new incident of which it is the
    primary case; the new incident's id. Not committed: the caller audits it in the same transaction."""
    item_id = await session.scalar(select(HitRow.item_id).join(AlertRow, AlertRow.hit_id == HitRow.id)
                                   .where(AlertRow.id == alert_id))
    title = await session.scalar(select(ItemRow.title).where(ItemRow.id == item_id))
    incident = IncidentRow(primary_alert_id=alert_id, title=title or "", sketch=sketch, created_at=now)
    session.add(incident)
    await session.flush()
    await session.execute(update(AlertRow).where(AlertRow.hit_id.in_(select(HitRow.id).where(HitRow.item_id == item_id)))
                          .values(incident_id=incident.id))
    return incident.id


# --- the web desk: incidents and handling time ---------------------------------------------------

@dataclass(frozen=True)
class Incident:
    """One story: its primary case and every copy of it in order of discovery (the propagation path)."""

    incident_id: int
    title: str
    created_at: datetime
    primary_alert_id: int | None
    copies: tuple[Copy, ...]  # one per page, the first included
    state: str | None = None  # the primary case's
    grade: str | None = None

    @property
    def sources(self) -> int:
        return len({copy.source_id for copy in self.copies})


async def list_incidents(session: AsyncSession, limit: int | None = 50, *, since: datetime | None = None,
                         incident_id: int | None = None) -> list[Incident]:
    """The newest incidents with their copies; ``incident_id`` picks one (empty list: no such incident)."""
    query = (select(IncidentRow, AlertRow.state, AlertRow.grade)
             .outerjoin(AlertRow, AlertRow.id == IncidentRow.primary_alert_id)
             .order_by(IncidentRow.created_at.desc(), IncidentRow.id.desc()).limit(limit))
    if since is not None:
        query = query.where(IncidentRow.created_at >= since)
    if incident_id is not None:
        query = query.where(IncidentRow.id == incident_id)
    incidents = (await session.execute(query)).all()
    if not incidents:
        return []
    found = await session.execute(
        select(AlertRow.incident_id, AlertRow.id, ItemRow.source_id, ItemRow.url, ItemRow.title, AlertRow.created_at,
               ItemRow.published_at)
        .join(HitRow, AlertRow.hit_id == HitRow.id).join(ItemRow, HitRow.item_id == ItemRow.id)
        .where(AlertRow.incident_id.in_([i.id for i, *_ in incidents])).order_by(AlertRow.created_at, AlertRow.id))
    pages: dict[int, dict[str, Copy]] = {}
    for incident, *copy in found.all():
        pages.setdefault(incident, {}).setdefault(copy[2], Copy(*copy))
    return [Incident(i.id, i.title, i.created_at, i.primary_alert_id, tuple(pages.get(i.id, {}).values()), state, grade)
            for i, state, grade in incidents]


async def handling_times(session: AsyncSession, since: datetime) -> list[tuple[str, datetime, datetime]]:
    """(grade, found, closed) of every case closed since ``since``, from its closing audit entry."""
    rows = await session.execute(
        select(AlertRow.grade, AlertRow.created_at, AuditRow.at).join(AuditRow, AuditRow.alert_id == AlertRow.id)
        .where(AuditRow.action == "close", AuditRow.at >= since).order_by(AuditRow.at))
    return [(grade, found, closed) for grade, found, closed in rows.all()]
