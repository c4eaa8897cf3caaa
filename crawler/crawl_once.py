"""``yuqing crawl --once``: every selected source once, now, then deliver the alerts and exit."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from rich.progress import Progress

from crawler.app import App
from crawler.config.loader import Config
from crawler.config.sources import SourceSpec
from crawler.memory import release_freed_memory
from crawler.pipeline import run_status
from crawler.types import RunStats
from storage import queries

log = logging.getLogger("yuqing.crawl")


@dataclass
class CrawlSummary:
    runs: dict[str, tuple[str, RunStats]] = field(default_factory=dict)
    sent: int = 0
    pending: int = 0


async def crawl_once(config: Config, db_url: str, data_dir: Path, sources: list[SourceSpec],
                     progress: bool = False) -> CrawlSummary:
    summary = CrawlSummary()
    app = await App.open(config, db_url, data_dir)
    release_freed_memory()  # what start-up left behind
    try:
        with Progress(disable=not progress, transient=True) as bar:
            task = bar.add_task("巡查中 crawling", total=len(sources))

            async def one(source: SourceSpec) -> None:
                try:
                    stats = await app.patrol(source, "manual")
                except Exception as exc:  # its run's bookkeeping failed (database busy): the other sources go on
                    log.exception("run could not be recorded source=%s", source.id)
                    stats = RunStats(errors=[f"内部错误 internal error: {type(exc).__name__}: {exc}"])
                    summary.runs[source.id] = ("failed", stats)
                else:
                    if stats is not None:
                        summary.runs[source.id] = (run_status(stats), stats)
                bar.advance(task)

            await asyncio.gather(*(one(s) for s in sources))
        summary.sent = await app.outbox.drain_once()
        async with app.sessions() as session:
            counts = await queries.delivery_counts(session)
        summary.pending = counts.get("pending", 0) + counts.get("sending", 0)
    finally:
        await app.close()
    return summary
