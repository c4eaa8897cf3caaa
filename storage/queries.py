"""All SQL of the project, as small async functions over a session."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crawler.dedup import same_story, sketch
from crawler.types import AlertPayload, FetchResult, Hit, Item, NoticePayload, Payload, RunStats, Validators
from storage.models import AlertRow, DeliveryRow, FetchState, HitRow, IncidentRow, ItemRow, LinkState, NoticeRow, RunRow

# A repost folds into an incident first seen at most this long before it, unless that incident's
# case is closed (已结案): a story that comes back after closure is a new case.
FOLD_WITHIN = timedelta(days=7)
DIGEST_GRADE = "一般"  # DESIGN §7: 重大 at once, 一般 in a digest at the end of each window


def idempotency_key(url: str, rule_id: str) -> str:
    """Stable across restarts and re-created databases: the same page and rule give the same key."""
    return hashlib.sha256(f"{url}\n{rule_id}".encode()).hexdigest()[:32]


# --- fetch state -------------------------------------------------------------------------------

async def load_validators(session: AsyncSession, url: str) -> Validators | None:
    row = await session.get(FetchState, url)
    if row is None or (row.etag is None and row.last_modified is None):
        return None
    return Validators(etag=row.etag, last_modified=row.last_modified)


async def save_fetch_state(session: AsyncSession, result: FetchResult) -> None:
    row = await session.get(FetchState, result.url)
    if row is None:
        row = FetchState(url=result.url)
        session.add(row)
    _apply_fetch_state(row, result)


async def save_fetch_states(session: AsyncSession, results: Sequence[FetchResult]) -> None:
    """``save_fetch_state`` for many pages with one look-up (the last result of a URL wins); not committed."""
    latest = {result.url: result for result in results}
    urls = list(latest)
    rows: dict[str, FetchState] = {}
    for i in range(0, len(urls), 500):
        found = await session.scalars(select(FetchState).where(FetchState.url.in_(urls[i : i + 500])))
        rows.update((row.url, row) for row in found.all())
    for url, result in latest.items():
        row = rows.get(url)
        if row is None:
            row = FetchState(url=url)
            session.add(row)
        _apply_fetch_state(row, result)


def _apply_fetch_state(row: FetchState, result: FetchResult) -> None:
    if not result.not_modified:
        validators = result.validators
        row.etag, row.last_modified = validators.etag, validators.last_modified
    row.last_status = result.status
    row.last_fetched_at = result.fetched_at


# --- followed links ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Followed:
    """A list page's link that was followed to its end (``LinkState``): the list's ``version`` of
    it (None: read it again next time) and the last page of it read."""

    url: str
    source_id: str
    version: str | None
    page: int | None
    page_url: str | None
    seen_at: datetime


async def followed_links(session: AsyncSession, urls: Iterable[str]) -> dict[str, LinkState]:
    """The links among ``urls`` followed before, by URL."""
    wanted = list(dict.fromkeys(urls))
    found: dict[str, LinkState] = {}
    for i in range(0, len(wanted), 500):
        rows = await session.scalars(select(LinkState).where(LinkState.url.in_(wanted[i : i + 500])))
        found.update((row.url, row) for row in rows.all())
    return found


async def save_followed(session: AsyncSession, links: Sequence[Followed]) -> None:
    """Remember ``links`` as followed (the last of a URL wins); not committed, so it goes with the
    caller's transaction."""
    latest = {link.url: link for link in links}
    rows = await followed_links(session, latest)
    for url, link in latest.items():
        row = rows.get(url)
        if row is None:
            row = LinkState(url=url)
            session.add(row)
        row.source_id, row.version, row.seen_at = link.source_id, link.version, link.seen_at
        row.page, row.page_url = link.page, link.page_url


# --- items, hits, alerts -----------------------------------------------------------------------

async def seen_urls(session: AsyncSession, urls: Iterable[str]) -> set[str]:
    wanted = list(dict.fromkeys(urls))
    seen: set[str] = set()
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        seen.update((await session.scalars(select(ItemRow.url).where(ItemRow.url.in_(chunk)))).all())
    return seen


@dataclass(frozen=True)
class StoredItem:
    item_id: int
    alert_ids: tuple[int, ...]


@dataclass(frozen=True)
class NewItem:
    """One item for ``store_items``: the item, its hits, and how to record them."""

    item: Item
    hits: list[Hit]
    found_at: datetime
    channels_for: Callable[[str], list[str]]
    body_sha256: str | None = None
    run_id: int | None = None


async def store_item(
    session: AsyncSession,
    item: Item,
    hits: list[Hit],
    *,
    now: datetime,
    channels_for: Callable[[str], list[str]],
    body_sha256: str | None = None,
    run_id: int | None = None,
) -> StoredItem | None:
    """Item, its hits, their alerts and pending deliveries, in one transaction (the outbox).

    Returns None when the URL is already stored (another run got there first): nothing is
    written twice, so no alert is ever duplicated.
    """
    try:
        stored = await store_items(session, [NewItem(item, hits, now, channels_for, body_sha256, run_id)])
    except IntegrityError:
        return None
    return stored[0]


async def store_items(session: AsyncSession, entries: Sequence[NewItem],
                      fetch_states: Sequence[FetchResult] = ()) -> list[StoredItem | None]:
    """Several items, each with its hits, their alerts and pending deliveries, in ONE transaction
    (the outbox) — with the ``fetch_states`` of their pages and whatever the caller added to
    ``session`` before — then commit. Every look-up comes before the first write, so the write
    lock is held for a few round trips only.

    One commit (one fsync) for many items is what makes a busy patrol fast; an item and its
    alerts are still never apart. Returns, per entry, its ``StoredItem``, or None when its URL is
    already stored or repeats an earlier entry's (nothing written for it). Raises
    ``IntegrityError``, after rolling everything back, when another writer stored one of the
    URLs between our check and our insert: the caller then stores the entries one by one with
    ``store_item``, so that only the duplicate drops out.
    """
    out: list[StoredItem | None] = [None] * len(entries)
    taken = await seen_urls(session, (e.item.url for e in entries))
    if fetch_states:
        await save_fetch_states(session, fetch_states)
    fresh: list[tuple[int, NewItem]] = []
    for index, entry in enumerate(entries):
        if entry.item.url not in taken:
            taken.add(entry.item.url)
            fresh.append((index, entry))
    stories = {index: sketch(f"{e.item.title}\n{e.item.text}") for index, e in fresh if e.hits}
    incidents = await foldable_incidents(session, min(e.found_at for _, e in fresh) - FOLD_WITHIN) \
        if any(stories.values()) else []
    try:
        # Items go in as one executemany, their ids come back with one look-up: a flush of ORM
        # objects would send one INSERT … RETURNING per row, and every round trip of a
        # transaction waits for a turn of a busy event loop while holding the write lock.
        ids: dict[str, int] = {}
        if fresh:
            # The table, not the ORM class: ORM bulk inserts split rows by which columns are NULL.
            await session.execute(insert(ItemRow.__table__), [{
                "url": e.item.url, "source_id": e.item.source_id, "parent_url": e.item.parent_url,
                "title": e.item.title, "text": e.item.text, "author": e.item.author,
                "published_at": e.item.published_at, "fetched_at": e.item.fetched_at,
                "content_hash": e.item.content_hash, "body_sha256": e.body_sha256, "run_id": e.run_id,
            } for _, e in fresh])
            urls = [e.item.url for _, e in fresh]
            for i in range(0, len(urls), 500):
                found = await session.execute(select(ItemRow.url, ItemRow.id).where(ItemRow.url.in_(urls[i : i + 500])))
                ids.update((url, item_id) for url, item_id in found.all())
        hit_rows: list[tuple[int, NewItem, Hit, HitRow]] = []
        for index, entry in fresh:
            for hit in entry.hits:
                hit_rows.append((index, entry, hit, HitRow(
                    item_id=ids[entry.item.url], rule_id=hit.rule_id, category=hit.category, grade=hit.grade,
                    terms=[{"term": t.term, "field": t.field, "start": t.start, "end": t.end} for t in hit.terms],
                    snippet=hit.snippet, found_at=entry.found_at,
                )))
        if hit_rows:  # hits are rare: a flush per table is fine
            session.add_all([hit_row for *_, hit_row in hit_rows])
            await session.flush()
        alert_rows: list[tuple[int, NewItem, AlertRow]] = []
        for index, entry, hit, hit_row in hit_rows:
            alert_rows.append((index, entry, AlertRow(
                hit_id=hit_row.id, idempotency_key=idempotency_key(entry.item.url, hit.rule_id),
                grade=hit.grade, state="new", created_at=entry.found_at)))
        if alert_rows:
            session.add_all([alert for *_, alert in alert_rows])
            await session.flush()
        alert_ids: dict[int, list[int]] = {}
        for index, entry, alert in alert_rows:
            alert_ids.setdefault(index, []).append(alert.id)
        reposts = await _fold(session, {i: [a for j, _, a in alert_rows if j == i] for i in alert_ids},
                              {i: e for i, e in fresh}, stories, incidents)
        for index, entry, alert in alert_rows:
            if index in reposts:
                continue  # the incident's first alert was delivered; a repost is a line in its propagation path
            for channel in entry.channels_for(alert.grade):
                session.add(DeliveryRow(alert_id=alert.id, channel=channel, status="pending",
                                        attempts=0, next_attempt_at=entry.found_at))
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise
    for index, entry in fresh:
        out[index] = StoredItem(ids[entry.item.url], tuple(alert_ids.get(index, ())))
    return out


@dataclass
class _Incident:
    id: int
    sketch: list[int]


async def foldable_incidents(session: AsyncSession, since: datetime) -> list[_Incident]:
    """Incidents a new copy may fold into: first seen since ``since``, their case not closed."""
    rows = await session.execute(
        select(IncidentRow.id, IncidentRow.sketch).join(AlertRow, AlertRow.id == IncidentRow.primary_alert_id)
        .where(IncidentRow.created_at >= since, AlertRow.state != "closed").order_by(IncidentRow.id))
    return [_Incident(incident_id, list(story)) for incident_id, story in rows.all() if story]


async def _fold(session: AsyncSession, alerts: dict[int, list[AlertRow]], entries: dict[int, NewItem],
                stories: dict[int, list[int]], incidents: list[_Incident]) -> set[int]:
    """Put each new item's alerts into the incident of its story — an open one it reposts, or a
    new one whose primary case is the item's first alert — and return the indexes of reposts.

    Items of one batch are taken in order, so the second copy of a story seen in the same patrol
    folds into the incident the first one opened."""
    reposts: set[int] = set()
    opened: list[tuple[IncidentRow, AlertRow]] = []
    for index, rows in alerts.items():
        story = stories.get(index, [])
        found = same_story(story, ((c, c.sketch) for c in incidents)) if story else None
        if found is not None:
            reposts.add(index)
            for row in rows:
                row.incident_id = found.id
            continue
        item = entries[index].item
        incident = IncidentRow(title=item.title or item.text[:60], sketch=story, created_at=entries[index].found_at)
        session.add(incident)
        await session.flush()
        opened.append((incident, rows[0]))
        for row in rows:
            row.incident_id = incident.id
        if story:
            incidents.append(_Incident(incident.id, story))
    for incident, primary in opened:
        incident.primary_alert_id = primary.id
    if alerts:
        await session.flush()
    return reposts


@dataclass(frozen=True)
class HitView:
    """A hit as the CLI shows it."""

    hit_id: int
    url: str
    title: str
    source_id: str
    rule_id: str
    category: str
    grade: str
    terms: list[str]
    snippet: str
    found_at: datetime
    alert_state: str | None


async def list_hits(session: AsyncSession, limit: int = 100, source_id: str | None = None) -> list[HitView]:
    query = (
        select(HitRow, ItemRow, AlertRow.state)
        .join(ItemRow, HitRow.item_id == ItemRow.id)
        .outerjoin(AlertRow, AlertRow.hit_id == HitRow.id)
        .order_by(HitRow.found_at.desc(), HitRow.id.desc())
        .limit(limit)
    )
    if source_id:
        query = query.where(ItemRow.source_id == source_id)
    out = []
    for hit, item, state in (await session.execute(query)).all():
        out.append(HitView(hit.id, item.url, item.title, item.source_id, hit.rule_id, hit.category, hit.grade,
                           sorted({t["term"] for t in hit.terms}), hit.snippet, hit.found_at, state))
    return out


# --- outbox ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    channel: str
    attempts: int
    payload: Payload


def _held(digest: Collection[str]) -> ColumnElement[bool]:
    """Deliveries kept for the 一般 digest: a digest channel's, of an alert graded 一般 right now
    (regraded 重大, it goes at once)."""
    return (DeliveryRow.channel.in_(list(digest)) & DeliveryRow.alert_id.is_not(None)  # NULL would make NOT(…) NULL
            & DeliveryRow.alert_id.in_(select(AlertRow.id).where(AlertRow.grade == DIGEST_GRADE)))


async def claim_deliveries(
    session: AsyncSession, now: datetime, lease_for: Callable[[str], float], limit: int = 20,
    digest: Collection[str] = (),
) -> list[Claimed]:
    """Take due deliveries: pending ones whose backoff is over, and 'sending' ones whose lease ran
    out — except those the channels in ``digest`` gather into the 一般 digest (``take_digest``).

    A 'sending' row whose lease expired belongs to a process that died mid-send: the outcome is
    unknown, so it is sent again with the same idempotency key (at-least-once; the window is the
    few milliseconds between the receiver's acceptance and our commit). The claim is a
    conditional UPDATE, so two processes never send the same row at once.
    """
    due = (
        select(DeliveryRow.id, DeliveryRow.channel)
        .where(or_(DeliveryRow.status == "pending", DeliveryRow.status == "sending"))
        .where(DeliveryRow.next_attempt_at <= now)
        .order_by(DeliveryRow.next_attempt_at, DeliveryRow.id)
        .limit(limit)
    )
    if digest:
        due = due.where(~_held(digest))
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claimed_ids: list[int] = []
    for delivery_id, channel in (await session.execute(due)).all():
        lease_until = now + timedelta(seconds=lease_for(channel))
        result = await session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id == delivery_id, DeliveryRow.next_attempt_at <= now,
                   DeliveryRow.status.in_(("pending", "sending")))
            .values(status="sending", attempts=DeliveryRow.attempts + 1, next_attempt_at=lease_until)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed_ids.append(delivery_id)
    await session.commit()
    if not claimed_ids:
        return []
    out = [*await _alert_claims(session, claimed_ids), *await _notice_claims(session, claimed_ids)]
    await session.commit()
    return sorted(out, key=lambda c: c.delivery_id)


@dataclass(frozen=True)
class Digested:
    alert_id: int
    title: str
    url: str
    source_id: str
    category: str
    found_at: datetime


async def take_digest(session: AsyncSession, digest: Collection[str], *, before: datetime) -> dict[str, list[Digested]]:
    """The held 一般 deliveries of alerts found before ``before``, per channel, marked 'digested'
    (not committed: the caller adds the digest notice in the same transaction)."""
    rows = (await session.execute(
        select(DeliveryRow.id, DeliveryRow.channel, AlertRow.id, ItemRow.title, ItemRow.url, ItemRow.source_id,
               HitRow.category, AlertRow.created_at)
        .join(AlertRow, DeliveryRow.alert_id == AlertRow.id).join(HitRow, AlertRow.hit_id == HitRow.id)
        .join(ItemRow, HitRow.item_id == ItemRow.id)
        .where(DeliveryRow.status == "pending", AlertRow.created_at < before, _held(digest))
        .order_by(AlertRow.created_at, AlertRow.id))).all()
    out: dict[str, list[Digested]] = {}
    for delivery_id, channel, *alert in rows:
        out.setdefault(channel, []).append(Digested(*alert))
    if rows:
        await session.execute(update(DeliveryRow).where(DeliveryRow.id.in_([r[0] for r in rows]))
                              .values(status="digested"))
    return out


async def _alert_claims(session: AsyncSession, delivery_ids: list[int]) -> list[Claimed]:
    rows = await session.execute(
        select(DeliveryRow, AlertRow, HitRow, ItemRow)
        .join(AlertRow, DeliveryRow.alert_id == AlertRow.id)
        .join(HitRow, AlertRow.hit_id == HitRow.id)
        .join(ItemRow, HitRow.item_id == ItemRow.id)
        .where(DeliveryRow.id.in_(delivery_ids))
    )
    out = []
    for delivery, alert, hit, item in rows.all():
        payload = AlertPayload(
            alert_id=alert.id, idempotency_key=alert.idempotency_key, grade=alert.grade,
            category=hit.category, rule_id=hit.rule_id,
            matched_terms=tuple(sorted({t["term"] for t in hit.terms})), snippet=hit.snippet,
            url=item.url, title=item.title, source_id=item.source_id, source_name=item.source_id,
            found_at=hit.found_at, published_at=item.published_at, author=item.author,
        )
        out.append(Claimed(delivery.id, delivery.channel, delivery.attempts, payload))
    return out


async def _notice_claims(session: AsyncSession, delivery_ids: list[int]) -> list[Claimed]:
    rows = await session.execute(
        select(DeliveryRow, NoticeRow).join(NoticeRow, DeliveryRow.notice_id == NoticeRow.id)
        .where(DeliveryRow.id.in_(delivery_ids)))
    return [
        Claimed(delivery.id, delivery.channel, delivery.attempts, NoticePayload(
            notice_id=notice.id, idempotency_key=notice.idempotency_key, kind=notice.kind,
            source_id=notice.source_id, source_name=notice.source_id, message=notice.message, url=notice.url,
            found_at=notice.created_at))
        for delivery, notice in rows.all()
    ]


async def mark_sent(session: AsyncSession, delivery_id: int, now: datetime) -> None:
    await session.execute(update(DeliveryRow).where(DeliveryRow.id == delivery_id)
                          .values(status="sent", sent_at=now, last_error=None))
    await session.commit()


async def mark_retry(session: AsyncSession, delivery_id: int, retry_at: datetime, error: str) -> None:
    await session.execute(update(DeliveryRow).where(DeliveryRow.id == delivery_id)
                          .values(status="pending", next_attempt_at=retry_at, last_error=error[:2000]))
    await session.commit()


async def next_delivery_due(session: AsyncSession) -> datetime | None:
    return await session.scalar(
        select(func.min(DeliveryRow.next_attempt_at)).where(DeliveryRow.status.in_(("pending", "sending")))
    )


async def delivery_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(DeliveryRow.status, func.count()).group_by(DeliveryRow.status))
    return {status: count for status, count in rows.all()}


# --- runs: the patrol ledger -------------------------------------------------------------------

async def start_run(session: AsyncSession, source_id: str, trigger: str, now: datetime,
                    window_start: datetime | None = None, window_end: datetime | None = None) -> int:
    row = RunRow(source_id=source_id, trigger=trigger, window_start=window_start, window_end=window_end,
                 started_at=now, status="running")
    session.add(row)
    await session.flush()
    await session.commit()
    return row.id


async def finish_run(session: AsyncSession, run_id: int, stats: RunStats, status: str, now: datetime) -> None:
    await session.execute(update(RunRow).where(RunRow.id == run_id).values(
        finished_at=now, status=status, fetched=stats.fetched, failed=stats.failed, items=stats.items,
        new_items=stats.new_items, hits=stats.hits,
        error="\n".join(stats.errors)[:4000] if stats.errors else None,
    ))
    await session.commit()


async def abort_stale_runs(session: AsyncSession, now: datetime) -> int:
    """Runs left 'running' by a process that died; called once when the daemon starts."""
    result = await session.execute(update(RunRow).where(RunRow.status == "running").values(
        status="aborted", finished_at=now, error="进程中断 the daemon stopped during this run"))
    await session.commit()
    return result.rowcount  # type: ignore[attr-defined,no-any-return]


async def window_was_patrolled(session: AsyncSession, source_id: str, window_start: datetime) -> bool:
    """Whether a run of this window finished (ok, partial or failed) — aborted runs do not count."""
    found = await session.scalar(
        select(RunRow.id).where(RunRow.source_id == source_id, RunRow.window_start == window_start,
                                RunRow.status.in_(("ok", "partial", "failed"))).limit(1))
    return found is not None


async def last_run_started(session: AsyncSession, source_id: str) -> datetime | None:
    return await session.scalar(select(func.max(RunRow.started_at)).where(
        RunRow.source_id == source_id, RunRow.status.in_(("ok", "partial", "failed"))))


async def list_runs(session: AsyncSession, since: datetime | None = None, limit: int = 200) -> list[RunRow]:
    query = select(RunRow).order_by(RunRow.started_at.desc(), RunRow.id.desc()).limit(limit)
    if since is not None:
        query = query.where(RunRow.started_at >= since)
    return list((await session.scalars(query)).all())


async def evidence_digest(session: AsyncSession, alert_id: int) -> str | None:
    """The body digest that names an alert's evidence bundle."""
    return await session.scalar(
        select(ItemRow.body_sha256).join(HitRow, HitRow.item_id == ItemRow.id)
        .join(AlertRow, AlertRow.hit_id == HitRow.id).where(AlertRow.id == alert_id))


async def list_items(session: AsyncSession, source_id: str | None = None, limit: int = 500) -> list[ItemRow]:
    query = select(ItemRow).order_by(ItemRow.id).limit(limit)
    if source_id:
        query = query.where(ItemRow.source_id == source_id)
    return list((await session.scalars(query)).all())



# --- source health -----------------------------------------------------------------------------

async def previous_health(session: AsyncSession, source_id: str, before_run_id: int) -> bool | None:
    """Whether the source's last finished run before this one was healthy (None: no such run)."""
    row = (await session.execute(
        select(RunRow.items, RunRow.error).where(
            RunRow.source_id == source_id, RunRow.id < before_run_id,
            RunRow.status.in_(("ok", "partial", "failed")))
        .order_by(RunRow.id.desc()).limit(1))).first()
    return None if row is None else bool(row.items > 0 or not row.error)


async def add_notice(session: AsyncSession, *, key: str, kind: str, source_id: str, message: str, url: str,
                     now: datetime, channels: list[str], run_id: int | None = None) -> int:
    """A notice and its pending deliveries, inside the caller's transaction."""
    notice = NoticeRow(idempotency_key=hashlib.sha256(key.encode()).hexdigest()[:32], kind=kind, source_id=source_id,
                       message=message, url=url, run_id=run_id, created_at=now)
    session.add(notice)
    await session.flush()
    for channel in channels:
        session.add(DeliveryRow(notice_id=notice.id, channel=channel, status="pending", attempts=0,
                                next_attempt_at=now))
    await session.flush()
    return notice.id


async def store_notice(session: AsyncSession, *, kind: str, source_id: str, message: str, url: str, run_id: int,
                       now: datetime, channels: list[str]) -> int:
    """A source-health notice and its deliveries, committed together, like an alert."""
    notice_id = await add_notice(session, key=f"{source_id}\n{kind}\n{run_id}", kind=kind, source_id=source_id,
                                 message=message, url=url, now=now, channels=channels, run_id=run_id)
    await session.commit()
    return notice_id


async def items_since(session: AsyncSession, since: datetime) -> list[tuple[Item, list[str]]]:
    """Stored items fetched since ``since``, each with the rule ids that fired on it: for backtests."""
    rows = (await session.scalars(select(ItemRow).where(ItemRow.fetched_at >= since).order_by(ItemRow.id))).all()
    fired: dict[int, list[str]] = {}
    for item_id, rule_id in (await session.execute(
            select(HitRow.item_id, HitRow.rule_id).join(ItemRow, HitRow.item_id == ItemRow.id)
            .where(ItemRow.fetched_at >= since))).all():
        fired.setdefault(item_id, []).append(rule_id)
    return [(Item(url=r.url, source_id=r.source_id, title=r.title, text=r.text, fetched_at=r.fetched_at,
                  author=r.author, published_at=r.published_at, parent_url=r.parent_url), sorted(fired.get(r.id, [])))
            for r in rows]


@dataclass(frozen=True)
class InformantStats:
    informant: str
    submitted: int
    confirmed: int  # reported to the leader or further: the lead was real


async def informant_stats(session: AsyncSession, source_id: str, since: datetime, until: datetime) -> list[InformantStats]:
    """Leads per informant in [since, until): the weekly notice the regulations ask for."""
    confirmed_states = ("reported", "dispatched", "replied", "closed")
    rows = await session.execute(
        select(ItemRow.author, func.count(AlertRow.id),
               func.sum(case((AlertRow.state.in_(confirmed_states), 1), else_=0)))
        .join(HitRow, HitRow.item_id == ItemRow.id).join(AlertRow, AlertRow.hit_id == HitRow.id)
        .where(ItemRow.source_id == source_id, ItemRow.fetched_at >= since, ItemRow.fetched_at < until)
        .group_by(ItemRow.author).order_by(ItemRow.author))
    return [InformantStats(author or "", int(n), int(ok or 0)) for author, n, ok in rows.all()]


# --- the web desk: dashboard ---------------------------------------------------------------------

async def hit_facts(session: AsyncSession, since: datetime) -> list[tuple[datetime, str, str]]:
    """(found_at, category, source_id) of every hit since ``since``: the dashboard groups them by day."""
    rows = await session.execute(
        select(HitRow.found_at, HitRow.category, ItemRow.source_id).join(ItemRow, HitRow.item_id == ItemRow.id)
        .where(HitRow.found_at >= since).order_by(HitRow.found_at))
    return [(found_at, category, source_id) for found_at, category, source_id in rows.all()]
