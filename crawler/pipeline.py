"""Run one source once: fetch → parse → dedup → match → store (with alerts) — the whole patrol step.

Every source type is a two-level crawl: list pages (a feed, a news index, a forum page) give
finished items and/or links; links not seen before are fetched and parsed into items. The
adapter decides what a page means; this module only drives I/O, so it stays short.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crawler.adapters import Adapter, Listing, ParseError
from crawler.config.sources import SourceSpec
from crawler.fetch import Fetcher
from crawler.match import Ruleset, match_item
from crawler.types import FetchError, FetchPolicy, FetchResult, Item, RunStats
from storage import queries
from storage.evidence import EvidenceStore

log = logging.getLogger("yuqing.fetch")

DEFAULT_MAX_ITEMS = 50


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


@dataclass
class _Run:
    source: SourceSpec
    adapter: Adapter
    policy: FetchPolicy
    max_items: int
    run_id: int | None
    ctx: RunContext
    stats: RunStats = field(default_factory=RunStats)

    def log_fetch(self, result: FetchResult, items: int, new: int, hits: int) -> None:
        log.info("fetch source=%s url=%s status=%s bytes=%s ms=%s items=%s new=%s hits=%s",
                 self.source.id, result.final_url, result.status, len(result.body), result.elapsed_ms,
                 items, new, hits)

    def fail(self, url: str, reason: str) -> None:
        self.stats.failed += 1
        self.stats.errors.append(f"{url}: {reason}")
        log.warning("fetch source=%s url=%s error=%r", self.source.id, url, reason)

    async def fetch(self, url: str, conditional: bool) -> FetchResult | None:
        validators = None
        if conditional:
            async with self.ctx.sessions() as session:
                validators = await queries.load_validators(session, url)
        try:
            result = await self.ctx.fetcher.fetch(url, self.policy, validators)
        except FetchError as exc:
            self.fail(url, exc.reason)
            return None
        self.stats.fetched += 1
        async with self.ctx.sessions() as session:
            await queries.save_fetch_state(session, result)
            await session.commit()
        return result

    async def store(self, items: list[Item], result: FetchResult) -> tuple[int, int]:
        """Match and store items not seen before; returns (new items, hits).

        Evidence is written before the database commit, so every stored hit has its bundle.
        """
        self.stats.items += len(items)
        async with self.ctx.sessions() as session:
            seen = await queries.seen_urls(session, (i.url for i in items))
        matched = [(item, match_item(replace(item, title="") if item.title_inherited else item, self.ctx.ruleset))
                   for item in items if item.url not in seen]
        with_hits = [item for item, found in matched if found]
        if with_hits and self.ctx.evidence is not None:
            await asyncio.to_thread(self.ctx.evidence.save, result, with_hits)
        new = hits = 0
        for item, found in matched:
            async with self.ctx.sessions() as session:
                stored = await queries.store_item(
                    session, item, found, now=self.ctx.clock(), channels_for=self.ctx.channels_for,
                    body_sha256=result.sha256, run_id=self.run_id)
            if stored is None:
                continue
            new += 1
            hits += len(found)
            if stored.alert_ids:
                self.ctx.on_alert()
        self.stats.new_items += new
        self.stats.hits += hits
        return new, hits

    async def detail(self, url: str) -> None:
        result = await self.fetch(url, conditional=False)
        if result is None:
            return
        try:
            items = self.adapter.parse_detail(result, self.source)
        except ParseError as exc:
            self.fail(url, exc.reason)
            return
        new, hits = await self.store(items, result)
        self.log_fetch(result, len(items), new, hits)

    async def listing(self, url: str) -> list[str]:
        result = await self.fetch(url, conditional=True)
        if result is None or result.not_modified:
            if result is not None:
                self.log_fetch(result, 0, 0, 0)
            return []
        try:
            listing: Listing = self.adapter.parse_list(result, self.source)
        except ParseError as exc:
            self.fail(url, exc.reason)
            return []
        new, hits = await self.store(listing.items, result)
        async with self.ctx.sessions() as session:
            seen = await queries.seen_urls(session, listing.links)
        fresh = [link for link in listing.links if link not in seen]
        self.log_fetch(result, len(listing.items) + len(listing.links), new + len(fresh), hits)
        return fresh


async def crawl_source(source: SourceSpec, adapter: Adapter, policy: FetchPolicy, ctx: RunContext, *,
                       max_items: int = DEFAULT_MAX_ITEMS, run_id: int | None = None) -> RunStats:
    """One patrol of one source. Expected failures are counted in the stats, never raised."""
    run = _Run(source, adapter, policy, max_items, run_id, ctx)
    links: list[str] = []
    try:
        start_urls = adapter.start_urls(source)
    except ParseError as exc:
        run.fail(source.url or source.id, exc.reason)
        return run.stats
    for url in start_urls:
        for link in await run.listing(url):
            if link not in links:
                links.append(link)
    # The fetcher enforces per-host concurrency and delay; gather only lets different hosts overlap.
    await asyncio.gather(*(run.detail(link) for link in links[:max_items]))
    return run.stats


def run_status(stats: RunStats) -> str:
    """ok: everything fetched; partial: some pages failed; failed: nothing could be fetched."""
    if stats.failed == 0:
        return "ok"
    return "partial" if stats.fetched else "failed"
