"""The daemon: patrols every source in its windows, delivers alerts, and reloads its configuration
when a file in the config folder changes (watchfiles) or on SIGHUP.

APScheduler 3.x advances a job's next run time before running it, so a run killed mid-way is not
retried by the scheduler: on start, runs left 'running' are marked aborted and every source whose
window is open now and has no finished run in it is patrolled once (catch-up).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.exc import SQLAlchemyError
from watchfiles import awatch

from crawler.app import App
from crawler.config.loader import Config, load_config
from crawler.config.sources import SourceSpec
from crawler.config.yamlfile import ConfigError
from crawler.match import Ruleset
from crawler.schedule.trigger import WindowTrigger
from storage import queries

log = logging.getLogger("yuqing.daemon")

DEFAULT_JITTER_S = 30.0
SHUTDOWN_GRACE_S = 10.0


class Daemon:
    def __init__(self, app: App, config_dir: Path,
                 services: Sequence[Callable[[asyncio.Event], Awaitable[None]]] = ()) -> None:
        self.app = app
        self.services = services  # e.g. the web desk (yuqing run --web): run until the stop event
        self.config_dir = config_dir
        self.stop = asyncio.Event()
        self.scheduler = AsyncIOScheduler(timezone=app.config.sources.timezone)
        self.tasks: set[asyncio.Task[object]] = set()

    def _spawn(self, coro: Coroutine[object, object, None], source_id: str) -> None:
        task = asyncio.ensure_future(self._guarded(coro, source_id))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    @staticmethod
    async def _guarded(coro: Coroutine[object, object, None], source_id: str) -> None:
        """A patrol whose run cannot even be recorded (database unreachable or locked too long,
        disk full) is skipped with one log line; the next tick tries again, the daemon goes on."""
        try:
            await coro
        except (SQLAlchemyError, OSError) as exc:
            log.error("巡查无法记录，本次跳过 patrol not recorded, skipped source=%s reason=%s",
                      source_id, str(exc).splitlines()[0])

    async def _fire(self, source_id: str) -> None:
        """The APScheduler job (a coroutine, so it runs on the loop): hands the patrol to a task
        the daemon tracks, so shutdown can wait for it."""
        self._spawn(self._scheduled(source_id), source_id)

    async def _scheduled(self, source_id: str) -> None:
        source = next((s for s in self.app.config.enabled_sources() if s.id == source_id), None)
        if source is None:
            return
        window = self.app.config.sources.schedule(source).current(datetime.now(UTC))
        await self.app.patrol(source, "window", window)

    def _schedule_all(self, config: Config) -> None:
        self.scheduler.remove_all_jobs()
        for source in config.enabled_sources():
            schedule = config.sources.schedule(source)
            jitter = float(config.sources.setting(source, "jitter", DEFAULT_JITTER_S))  # type: ignore[arg-type]
            self.scheduler.add_job(
                self._fire, WindowTrigger(schedule, jitter), args=[source.id], id=source.id,
                name=source.display_name, max_instances=1, coalesce=True, misfire_grace_time=60,
                replace_existing=True)

    async def _catch_up(self, source: SourceSpec) -> None:
        """Run once now if the open window has not been patrolled (the daemon was down)."""
        now = datetime.now(UTC)
        schedule = self.app.config.sources.schedule(source)
        window = schedule.current(now)
        if window is None:
            return
        async with self.app.sessions() as session:
            if schedule.always:
                last = await queries.last_run_started(session, source.id)
                due = last is None or now - last >= timedelta(seconds=schedule.every_s)
            else:
                due = not await queries.window_was_patrolled(session, source.id, window.start)
        if due:
            log.info("catch-up source=%s window=%s", source.id, window.start.isoformat())
            await self.app.patrol(source, "catchup", None if schedule.always else window)

    async def _watch_config(self) -> None:
        """Reload after edits settle; editors write files in several steps."""
        async for changes in awatch(self.config_dir, stop_event=self.stop, debounce=500, recursive=True,
                                    watch_filter=lambda _change, path: path.endswith((".yaml", ".yml"))):
            log.info("配置文件已修改 config changed: %s", ", ".join(sorted({Path(p).name for _, p in changes})))
            self.reload()

    def reload(self) -> None:
        """Load the folder again; on any error keep running with the last good configuration."""
        try:
            config = load_config(self.config_dir)
            ruleset = Ruleset.compile(config.keywords)
        except ConfigError as exc:
            log.error("配置重新加载失败，继续使用上一份有效配置 reload failed, keeping last good config:\n%s", exc)
            return
        self.app.apply(config, ruleset)
        self._schedule_all(config)
        log.info("配置已重新加载 config reloaded sources=%s", len(config.enabled_sources()))

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        async with self.app.sessions() as session:
            aborted = await queries.abort_stale_runs(session, datetime.now(UTC))
        if aborted:
            log.warning("marked %s interrupted run(s) as aborted", aborted)
        self._schedule_all(self.app.config)
        self.scheduler.start()
        outbox = asyncio.ensure_future(self.app.outbox.run(self.stop))
        watcher = asyncio.ensure_future(self._watch_config())
        escalator = asyncio.ensure_future(self.app.escalator().run(self.stop))
        digest = asyncio.ensure_future(self.app.digester().run(self.stop))
        services = [asyncio.ensure_future(service(self.stop)) for service in self.services]
        for source in self.app.config.enabled_sources():
            self._spawn(self._catch_up(source), source.id)
        for job in self.scheduler.get_jobs():
            log.info("scheduled source=%s next=%s", job.id, job.next_run_time.isoformat() if job.next_run_time else None)
        await self.stop.wait()
        self.scheduler.shutdown(wait=False)
        running = list(self.tasks)
        if running:
            log.info("stopping: waiting up to %ss for %s running patrol(s)", SHUTDOWN_GRACE_S, len(running))
            _, late = await asyncio.wait(running, timeout=SHUTDOWN_GRACE_S)
            for task in late:  # their items are stored per transaction: cancelling loses nothing stored
                task.cancel()
        await asyncio.gather(*running, outbox, watcher, escalator, digest, *services, return_exceptions=True)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
