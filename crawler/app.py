"""Wiring: build the long-lived parts (database, fetcher, rules, notifiers, outbox) from a Config.

The CLI, the daemon and the demo share this, so ``yuqing crawl --once`` and ``yuqing run`` do
exactly the same work per source.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from alerts.digest import DigestService
from alerts.escalation import Escalator
from alerts.notifiers import build_notifier
from alerts.outbox import Backoff, Outbox
from crawler import health
from crawler.adapters import ADAPTERS, adapter_for
from crawler.config.loader import Config
from crawler.config.sources import SourceSpec
from crawler.fetch import Fetcher
from crawler.fetch.browser import Browser, BrowserSettings
from crawler.match import Ruleset
from crawler.parsing import Parser
from crawler.pipeline import DEFAULT_MAX_ITEMS, RunContext, crawl_source, run_status
from crawler.schedule.windows import Occurrence
from crawler.types import RunStats
from storage import db, queries
from storage.evidence import EvidenceStore

log = logging.getLogger("yuqing.app")

# Patrols of one process at a time; the other sources wait their turn. A window opening (or
# ``crawl --once``) starts every source at once, and each run holds database sessions: 10,000 at
# once queued for the connection pool past its 30 s timeout and crashed before the first request
# (bench/sources.py), 1,000 did so on a busy machine. 256 keeps hundreds of hosts busy.
MAX_PATROLS = 256


class UnsupportedSource(Exception):
    """A source type that sources.yaml accepts but no adapter handles yet."""


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class App:
    """One configuration bound to one database; swap ``config`` and ``ruleset`` on reload."""

    config: Config
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    fetcher: Fetcher
    ruleset: Ruleset
    outbox: Outbox
    evidence: EvidenceStore
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    patrol_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_PATROLS))
    browser: Browser | None = None  # Chromium starts on the first page that needs it, not here
    parser: Parser = field(default_factory=lambda: Parser(workers=0))

    @classmethod
    async def open(cls, config: Config, db_url: str, data_dir: Path, backoff: Backoff = Backoff()) -> "App":
        engine = db.make_engine(db_url)
        await db.upgrade(engine)
        sessions = db.sessionmaker(engine)
        outbox = Outbox(sessions, {}, backoff=backoff)
        app = cls(config, engine, sessions, Fetcher(), Ruleset.compile(config.keywords), outbox,
                  EvidenceStore(data_dir / "evidence"))
        # read once: a changed browser: section applies at the next start
        app.browser = Browser(app.fetcher, BrowserSettings.from_config(config.sources.browser))
        app.parser = Parser(config.sources.parse_workers)
        app.apply(config)
        return app

    def apply(self, config: Config, ruleset: Ruleset | None = None) -> None:
        """Start using a new configuration (hot reload keeps the database and the fetcher)."""
        self.config = config
        if ruleset is not None:
            self.ruleset = ruleset
        self.outbox.notifiers = {ch.key: build_notifier(ch, config.sources.timezone) for ch in config.alerts.channels}
        self.outbox.source_names = {s.id: s.display_name for s in config.sources.sources}
        self.outbox.digest = config.alerts.digest_channels()

    def channels_for(self, grade: str) -> list[str]:
        return self.config.alerts.channels_for(grade)

    def escalator(self) -> Escalator:
        deadlines = lambda: self.config.alerts.deadlines  # noqa: E731 - read at each round: reloads apply
        return Escalator(self.sessions, deadlines, self.channels_for,
                         lambda: deadlines().escalate_to or self.channels_for("重大"),
                         on_notice=self.outbox.wakeup.set)

    def digester(self) -> DigestService:
        def settings() -> tuple[frozenset[str], list[str], ZoneInfo]:  # read at each round: reloads apply
            return (self.config.alerts.digest_channels(), self.config.alerts.digest_at,
                    ZoneInfo(self.config.sources.timezone))

        return DigestService(self.sessions, settings, on_notice=self.outbox.wakeup.set)

    def context(self) -> RunContext:
        return RunContext(self.fetcher, self.sessions, self.ruleset, self.channels_for,
                          on_alert=self.outbox.wakeup.set, evidence=self.evidence, browser=self.browser,
                          parser=self.parser)

    async def patrol(self, source: SourceSpec, trigger: str, window: Occurrence | None = None) -> RunStats | None:
        """One recorded run of one source; skipped (None) while another run of it is going on."""
        lock = self.locks.setdefault(source.id, asyncio.Lock())
        if lock.locked():
            log.info("run skipped source=%s reason=previous run still going", source.id)
            return None
        async with lock, self.patrol_slots:
            async with self.sessions() as session:
                run_id = await queries.start_run(
                    session, source.id, trigger, _utcnow(),
                    window.start if window else None, window.end if window else None)
            stats = RunStats()
            status = "aborted"  # stays so if the daemon is stopped mid-run
            try:
                if source.type not in ADAPTERS:  # accepted by the config, adapter still to come
                    raise UnsupportedSource(f"来源类型 {source.type} 还没有适配器 (no adapter for this type yet)")
                max_items = int(self.config.sources.setting(source, "max_items", DEFAULT_MAX_ITEMS))  # type: ignore[call-overload]
                stats = await crawl_source(source, adapter_for(source.type), self.config.policy(source),
                                           self.context(), max_items=max_items, run_id=run_id,
                                           screenshot=bool(self.config.sources.setting(source, "screenshot", False)))
                status = run_status(stats)
            except UnsupportedSource as exc:
                stats.errors.append(str(exc))
                status = "failed"
            except (SQLAlchemyError, OSError) as exc:  # disk full, database locked too long: not a bug
                reason = str(exc).splitlines()[0]
                log.error("run failed source=%s reason=%s", source.id, reason)
                status = "failed"
                stats.errors.append(f"数据库或磁盘错误 storage error: {reason}")
            except Exception as exc:  # a bug in one adapter must not stop the other sources
                log.exception("run crashed source=%s", source.id)
                status = "failed"
                stats.errors.append(f"内部错误 internal error: {type(exc).__name__}: {exc}")
            finally:
                async with self.sessions() as session:
                    await queries.finish_run(session, run_id, stats, status, _utcnow())
            log.info("run source=%s trigger=%s status=%s fetched=%s failed=%s items=%s new=%s hits=%s",
                     source.id, trigger, status, stats.fetched, stats.failed, stats.items, stats.new_items,
                     stats.hits)
            await self._note_health(source, run_id, stats)
            return stats

    async def _note_health(self, source: SourceSpec, run_id: int, stats: RunStats) -> None:
        """One notice when a source stops yielding anything, one when it recovers."""
        async with self.sessions() as session:
            change = health.health_change(await queries.previous_health(session, source.id, run_id), stats)
            if change is None:
                return
            await queries.store_notice(
                session, kind=change, source_id=source.id, message=health.describe(change, stats),
                url=source.url or source.id, run_id=run_id, now=_utcnow(),
                channels=self.channels_for(health.NOTICE_GRADE))
        log.warning("source health source=%s change=%s", source.id, change)
        self.outbox.wakeup.set()

    async def close(self) -> None:
        if self.browser is not None:
            await self.browser.close()
        await self.parser.close()
        await self.fetcher.close()
        await self.engine.dispose()


def data_db_url(data_dir: Path, db_url: str | None) -> str:
    """``--db``/``YUQING_DB`` wins; otherwise SQLite in the data folder (created on first run)."""
    if db_url:
        return db_url
    data_dir.mkdir(parents=True, exist_ok=True)
    return db.sqlite_url(data_dir)
