"""Run one source once: fetch → parse → dedup → match → store (with alerts) — the whole patrol step.

Every source type is a two-level crawl: list pages (a feed, a news index, a forum page) give
finished items and/or links; links not seen before are fetched and parsed into items. A forum
thread's page also names further pages (its next pages, its 楼中楼 pages), fetched too, at most
``max_pages`` a thread per patrol. Paging through a list stops at the first page that gives
nothing new. A link followed is remembered (``link_state``): an article whose item is stored
under another URL (a redirect) is not fetched again, and a thread only when the list shows a new
reply count, from the last page read. The adapter decides what a page means; this module only
drives I/O, so it stays short. Reads ``max_items`` and ``max_pages`` of the source.
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crawler.adapters import Adapter, Detail, Listing, ParseError
from crawler.config.sources import SourceSpec
from crawler.fetch import Fetcher
from crawler.fetch.browser import Browser
from crawler.match import Ruleset, match_item
from crawler.parsing import Parser
from crawler.types import FetchError, FetchPolicy, FetchResult, Hit, Item, RunStats
from storage import queries
from storage.evidence import EvidenceStore

log = logging.getLogger("yuqing.fetch")

DEFAULT_MAX_ITEMS = 50
DEFAULT_MAX_PAGES = 5  # pages of one thread (its own and its 楼中楼 pages) per patrol
# C0 controls but tab, newline and carriage return: feeds and hostile pages carry NULs, which
# PostgreSQL refuses in text, and the others are invisible noise that breaks keyword matching.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def clean_item(item: Item) -> Item:
    """The item without control characters in its title, text and author — before matching, so
    the offsets of a hit point into the text as stored."""
    fields = {"title": item.title, "text": item.text, "author": item.author}
    dirty = {key: _CONTROLS.sub("", value) for key, value in fields.items() if value and _CONTROLS.search(value)}
    return replace(item, **dirty) if dirty else item  # type: ignore[arg-type]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class RunContext:
    """What a run needs from the daemon, passed in so that tests can build one directly."""

    fetcher: Fetcher
    sessions: async_sessionmaker[AsyncSession]
    ruleset: Ruleset
    channels_for: Callable[[str], list[str]]
    on_alert: Callable[[], None] = lambda: None
    evidence: EvidenceStore | None = None
    clock: Callable[[], datetime] = _utcnow
    browser: Browser | None = None  # for sources with render: true, and evidence screenshots
    parser: Parser = field(default_factory=lambda: Parser(workers=0))  # the App passes its own (parse_workers)


@dataclass
class _Job:
    """Items to store, and the fetch state of the page they came from, for the writer."""

    entries: list[queries.NewItem]
    state: FetchResult | None
    done: asyncio.Future[list[queries.StoredItem | None]]
    links: list[queries.Followed] = field(default_factory=list)


class _Writer:
    """Group commit: every run of the process hands its items to one writer per database, which
    stores whatever has queued up in one transaction (items, hits, alerts, deliveries, fetch
    state) and commits once.

    Why: SQLite has one writer at a time and ``synchronous=FULL`` makes each commit an fsync. With
    a transaction per item, tens of concurrent runs queued for the write lock (each holding a
    pooled connection while its transaction waited on the CPU-bound event loop), exhausting the
    pool; now there is one writing connection and about one fsync per batch. The contract is
    unchanged: an item, its hits, alerts and deliveries are committed together, and the caller
    writes evidence before handing them over (so before the commit). The task runs while jobs
    are queued and ends when the queue is empty.

    Transactions start at most every ``PACE_S``: a page that arrives while the writer is idle
    is stored at once, but under a steady stream (pages parsed in worker processes arrive one
    by one, not in bursts behind a busy loop) each transaction took only the ~3 pages that came
    during the previous commit, and its fixed cost — a dozen statements on the event loop, an
    fsync — was paid 680 times for 2,000 pages (``bench/crawl.py``).
    """

    MAX_ENTRIES = 500  # items and pages per transaction
    PACE_S = 0.2

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.queue: deque[_Job] = deque()
        self.task: asyncio.Task[None] | None = None
        self.last_start = float("-inf")

    async def store(self, entries: list[queries.NewItem], state: FetchResult | None,
                    links: list[queries.Followed] | None = None) -> list[queries.StoredItem | None]:
        job = _Job(entries, state, asyncio.get_running_loop().create_future(), links or [])
        self.queue.append(job)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._drain())
        return await job.done

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self.queue:
            if (wait := self.last_start + self.PACE_S - loop.time()) > 0:
                await asyncio.sleep(wait)
            self.last_start = loop.time()
            batch: list[_Job] = []
            size = 0
            while self.queue and (not batch or size + len(self.queue[0].entries) < self.MAX_ENTRIES):
                job = self.queue.popleft()
                batch.append(job)
                size += len(job.entries) + 1
            try:
                results = await self._write(batch)
            except Exception as exc:  # noqa: BLE001  (handed to each waiting run, as store_item's errors were)
                for job in batch:
                    if not job.done.done():
                        job.done.set_exception(exc)
            else:
                for job, result in zip(batch, results):
                    if not job.done.done():
                        job.done.set_result(result)

    async def _write(self, batch: list[_Job]) -> list[list[queries.StoredItem | None]]:
        entries = [entry for job in batch for entry in job.entries]
        states = [job.state for job in batch if job.state is not None]
        links = [link for job in batch for link in job.links]
        try:
            async with self.sessions() as session:
                if links:  # in the items' transaction (store_items commits what the session holds)
                    await queries.save_followed(session, links)
                stored = await queries.store_items(session, entries, states)
        except IntegrityError:
            # Another process stored one of these URLs meanwhile: one by one, so only it drops out.
            return [await self._write_alone(job) for job in batch]
        results, start = [], 0
        for job in batch:
            results.append(stored[start:start + len(job.entries)])
            start += len(job.entries)
        return results

    async def _write_alone(self, job: _Job) -> list[queries.StoredItem | None]:
        if job.state is not None or job.links:
            async with self.sessions() as session:
                if job.state is not None:
                    await queries.save_fetch_state(session, job.state)
                await queries.save_followed(session, job.links)
                await session.commit()
        out: list[queries.StoredItem | None] = []
        for entry in job.entries:
            async with self.sessions() as session:
                out.append(await queries.store_item(
                    session, entry.item, entry.hits, now=entry.found_at, channels_for=entry.channels_for,
                    body_sha256=entry.body_sha256, run_id=entry.run_id))
        return out


_writers: weakref.WeakKeyDictionary[async_sessionmaker[AsyncSession], dict[asyncio.AbstractEventLoop, _Writer]] = (
    weakref.WeakKeyDictionary())


def _writer(sessions: async_sessionmaker[AsyncSession]) -> _Writer:
    """The writer of this database on the running event loop (tests run many loops, one each)."""
    loop = asyncio.get_running_loop()
    per_loop = _writers.setdefault(sessions, {})
    for closed in [other for other in per_loop if other.is_closed()]:
        del per_loop[closed]
    writer = per_loop.get(loop)
    if writer is None:
        writer = per_loop[loop] = _Writer(sessions)
    return writer


_admissions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, int], asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary())


def _admission(url: str, per_host: int) -> asyncio.Semaphore:
    """Fetches of one host (and one ``per_host`` setting) that may be inside the fetcher at once:
    twice ``per_host``, so that the next request is ready when a slot frees and a page in its
    retry back-off does not idle the host; the fetcher's gate still allows only ``per_host``.

    A run starts all its article pages at once, and twenty list pages of one site are twenty
    runs: without this, thousands of tasks waited in the gate, which wakes every waiter on every
    release (measured: 10,000 pages on one host cost twice the CPU per page of 2,000). A
    semaphore queues them in order and wakes one at a time.
    """
    per_loop = _admissions.setdefault(asyncio.get_running_loop(), {})
    key = (urlsplit(url).hostname or "", per_host)
    slot = per_loop.get(key)
    if slot is None:
        slot = per_loop[key] = asyncio.Semaphore(2 * max(1, per_host))
    return slot


@dataclass(frozen=True)
class _Follow:
    """A link to follow: where to start (a thread's last page read, or the link itself) and the
    version the list shows (``versioned``: the link is a thread)."""

    link: str
    start: str
    versioned: bool
    version: str | None


@dataclass
class _Run:
    source: SourceSpec
    adapter: Adapter
    policy: FetchPolicy
    max_items: int
    run_id: int | None
    ctx: RunContext
    stats: RunStats = field(default_factory=RunStats)
    screenshot: bool = False
    shots: dict[str, FetchResult] = field(default_factory=dict)  # pages with hits, awaiting their commit

    def log_fetch(self, result: FetchResult, items: int, new: int, hits: int, size: int | None = None) -> None:
        log.info("fetch source=%s url=%s status=%s bytes=%s ms=%s items=%s new=%s hits=%s",
                 self.source.id, result.final_url, result.status, len(result.body) if size is None else size,
                 result.elapsed_ms, items, new, hits)

    def fail(self, url: str, reason: str) -> None:
        self.stats.failed += 1
        self.stats.errors.append(f"{url}: {reason}")
        log.warning("fetch source=%s url=%s error=%r", self.source.id, url, reason)

    async def fetch(self, url: str, conditional: bool) -> FetchResult | None:
        """GET ``url``; ``conditional``: with the validators of its last fetch (a list page, fetched
        at every patrol), and its new ones committed before this returns. An article or thread
        page is fetched once per version, so its validators are never asked for and not kept
        (that was a look-up and a row per page in every batch).
        """
        validators = None
        if conditional:
            async with self.ctx.sessions() as session:
                validators = await queries.load_validators(session, url)
        try:
            async with _admission(url, self.policy.per_host):
                await self.ctx.parser.ready()  # the parser is far behind: no new page until it catches up
                if self.source.render:  # every page of the source, list and detail, through Chromium
                    if self.ctx.browser is None:
                        raise FetchError(url, "未配置浏览器 no browser for render: true")
                    result = await self.ctx.browser.render(url, self.policy, validators)
                else:
                    result = await self.ctx.fetcher.fetch(url, self.policy, validators)
        except FetchError as exc:
            self.fail(url, exc.reason)
            return None
        self.stats.fetched += 1
        if conditional:
            await _writer(self.ctx.sessions).store([], result)
        return result

    async def store(self, items: list[Item], result: FetchResult) -> tuple[int, int]:
        """Match and store items not seen before; returns (new items, hits).

        Evidence is written before the database commit, so every stored hit has its bundle.
        """
        matched, entries = await self._prepare(items, result, check_seen=True)
        return await self._save(matched, entries)

    async def _prepare(self, items: list[Item], result: FetchResult, *,
                       check_seen: bool) -> tuple[list[tuple[Item, list[Hit]]], list[queries.NewItem]]:
        """Match the items not seen before and write the evidence of their hits (so before the
        commit); returns them with what the writer stores. ``check_seen=False`` skips the look-up
        (the writer checks again anyway): for an article page whose link was unseen a moment ago."""
        self.stats.items += len(items)
        items = [clean_item(item) for item in items]
        seen: set[str] = set()
        if check_seen and items:
            async with self.ctx.sessions() as session:
                seen = await queries.seen_urls(session, (i.url for i in items))
        matched = [(item, match_item(replace(item, title="") if item.title_inherited else item, self.ctx.ruleset))
                   for item in items if item.url not in seen]
        with_hits = [item for item, found in matched if found]
        if with_hits and self.ctx.evidence is not None:
            await asyncio.to_thread(self.ctx.evidence.save, result, with_hits)
            if self.screenshot:
                self.shots[result.sha256] = result
        found_at = self.ctx.clock()
        digest = result.sha256 if matched else None
        entries = [queries.NewItem(item, found, found_at, self.ctx.channels_for, digest, self.run_id)
                   for item, found in matched]
        return matched, entries

    async def _save(self, matched: list[tuple[Item, list[Hit]]], entries: list[queries.NewItem]) -> tuple[int, int]:
        """Hand the entries to the writer; returns (new items, hits)."""
        if not entries:
            return 0, 0
        stored = await _writer(self.ctx.sessions).store(entries, None)
        new = hits = 0
        for (_, found), done in zip(matched, stored):
            if done is None:
                continue
            new += 1
            hits += len(found)
            if done.alert_ids:
                self.ctx.on_alert()
        self.stats.new_items += new
        self.stats.hits += hits
        for digest in {entry.body_sha256 for entry in entries if entry.hits}:
            page = self.shots.pop(digest or "", None)
            if page is not None and hits:
                await self.take_screenshot(page)
        return new, hits

    async def take_screenshot(self, page: FetchResult) -> None:
        """The page's screenshot into its evidence bundle, after the hit is committed: best effort,
        bounded by the browser's page timeout; a failure is logged, never raised."""
        evidence, browser = self.ctx.evidence, self.ctx.browser
        if evidence is None or browser is None:
            return
        try:
            if await asyncio.to_thread(evidence.has_screenshot, page.sha256):
                return
            # The stored markup as it is, styles and images loaded but no scripts: they could navigate
            # away, fetch other content than the evidence holds, or (in a rendered DOM) run twice.
            png = await browser.screenshot(page.final_url, self.policy, html=page.text, javascript=False)
            await asyncio.to_thread(evidence.add_screenshot, page.sha256, png, self.ctx.clock())
        except FetchError as exc:
            log.warning("screenshot failed source=%s url=%s error=%r", self.source.id, page.final_url, exc.reason)
        except Exception:  # the hit is stored; a screenshot problem must not fail the run
            log.exception("screenshot failed source=%s url=%s", self.source.id, page.final_url)

    async def follow(self, target: _Follow) -> None:
        """Fetch a link and the pages it leads to — a thread's later pages first, then its 楼中楼
        pages — at most ``max_pages``. Then remember it: a thread with the page to read on from
        (its first page not read, else its last page read) and the version read (None while pages
        are left, so the next patrol reads on); an article when its items are stored under other
        URLs (a redirect)."""
        budget = self.source.max_pages or DEFAULT_MAX_PAGES
        pages, others, queued = [target.start], [], {target.start}
        read: dict[str, int] = {}  # thread pages read: URL → page number
        unread: list[str] = []  # thread pages that failed
        aliased = False
        while (pages or others) and budget > 0:
            take = min(budget, len(pages))
            batch, these = pages[:take] + others[:budget - take], set(pages[:take])
            pages, others = pages[take:], others[budget - take:]
            budget -= len(batch)
            for url, detail in zip(batch, await asyncio.gather(*(self.detail(url) for url in batch))):
                if detail is None:
                    unread += [url] if url in these else []
                    continue
                if detail.page is not None:
                    read[url] = detail.page
                aliased = aliased or (url == target.link and url not in {item.url for item in detail.items})
                for queue, found in ((pages, detail.pages), (others, detail.more)):
                    for more in found:
                        if more not in queued:
                            queued.add(more)
                            queue.append(more)
        left = unread + pages
        resume = left[0] if left else max(read, key=read.__getitem__) if read else None
        if not read and target.start != target.link:
            resume = None  # nothing read where the last patrol ended (posts deleted?): page 1 next time
        followed: queries.Followed | None = None
        if target.versioned:
            followed = queries.Followed(target.link, self.source.id, target.version if read and not left else None,
                                        max(read.values(), default=None), resume, self.ctx.clock())
        elif aliased:
            followed = queries.Followed(target.link, self.source.id, None, None, None, self.ctx.clock())
        if followed is not None:
            await _writer(self.ctx.sessions).store([], None, [followed])

    async def detail(self, url: str) -> Detail | None:
        """Fetch, parse and store one detail page; None when it failed."""
        page = await self._read(url)
        if page is None:
            return None
        lean, size, count, matched, entries, detail = page
        new, hits = await self._save(matched, entries)
        self.log_fetch(lean, count, new, hits, size)
        return detail

    async def _read(self, url: str) -> tuple[FetchResult, int, int, list[tuple[Item, list[Hit]]],
                                             list[queries.NewItem], Detail] | None:
        """Fetch, parse and match one article page, evidence written; returns the page without its
        body and text (hundreds of KB that need not wait in memory for the writer), its size, the
        number of items, what to store, and what the adapter read (its further pages)."""
        result = await self.fetch(url, conditional=False)
        if result is None:
            return None
        lean = replace(result, body=b"", text="")
        try:
            detail = await self.ctx.parser(self.adapter.read_detail, self._parsed(result), self.source)
        except ParseError as exc:
            self.fail(url, exc.reason)
            return None
        # A thread's page holds old floors too, and a 楼中楼 page old replies: those are looked up.
        matched, entries = await self._prepare(detail.items, result, check_seen=detail.page is not None or bool(detail.more))
        return lean, len(result.body), len(detail.items), matched, entries, detail

    def _parsed(self, result: FetchResult) -> FetchResult:
        """What the adapter reads of a page: its text, and its bytes only if it asks for them."""
        return result if self.adapter.reads_body else replace(result, body=b"")

    async def listing(self, url: str) -> tuple[list[_Follow], int] | None:
        """The links of a list page to follow, and the number of new items it gave; None when the
        page could not be read."""
        result = await self.fetch(url, conditional=True)
        if result is None or result.not_modified:
            if result is not None:
                self.log_fetch(result, 0, 0, 0)
            return None if result is None else ([], 0)
        try:
            listing: Listing = await self.ctx.parser(self.adapter.parse_list, self._parsed(result), self.source)
        except ParseError as exc:
            self.fail(url, exc.reason)
            return None
        new, hits = await self.store(listing.items, result)
        async with self.ctx.sessions() as session:
            seen = await queries.seen_urls(session, listing.links)
            followed = await queries.followed_links(session, listing.links)
        fresh: list[_Follow] = []
        for link in listing.links:
            state = followed.get(link)
            if link in seen or (state is not None and link not in listing.versions):
                continue  # an article already stored, under this URL or the one it redirected to
            version = listing.versions.get(link)
            if state is not None and version is not None and state.version == version:
                continue  # a thread without new replies
            fresh.append(_Follow(link, (state.page_url if state else None) or link, link in listing.versions, version))
        self.log_fetch(result, len(listing.items) + len(listing.links), new + len(fresh), hits)
        return fresh, new


async def crawl_source(source: SourceSpec, adapter: Adapter, policy: FetchPolicy, ctx: RunContext, *,
                       max_items: int = DEFAULT_MAX_ITEMS, run_id: int | None = None,
                       screenshot: bool = False) -> RunStats:
    """One patrol of one source. Expected failures are counted in the stats, never raised.
    ``screenshot``: add a full-page screenshot to the evidence of each page with a new hit."""
    run = _Run(source, adapter, policy, max_items, run_id, ctx, screenshot=screenshot)
    targets: dict[str, _Follow] = {}
    try:
        start_urls = adapter.start_urls(source)
    except ParseError as exc:
        run.fail(source.url or source.id, exc.reason)
        return run.stats
    for url in start_urls:
        page = await run.listing(url)
        if page is None:
            continue
        fresh, new = page
        for target in fresh:
            targets.setdefault(target.link, target)
        if not fresh and not new:
            break  # the list is newest first: later pages hold nothing new either
    # The fetcher enforces per-host concurrency and delay; gather only lets different hosts overlap.
    await asyncio.gather(*(run.follow(target) for target in list(targets.values())[:max_items]))
    return run.stats


def run_status(stats: RunStats) -> str:
    """ok: everything fetched; partial: some pages failed; failed: nothing could be fetched."""
    if stats.failed == 0:
        return "ok"
    return "partial" if stats.fetched else "failed"
