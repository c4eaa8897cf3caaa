"""``yuqing test-source``: patrol one source into a scratch database and show what it yields.

The operator's way to try a source (or a selector) before relying on it: the real fetcher,
adapter and rules run exactly as in the daemon, but nothing touches the real database and no
alert is sent.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from crawler.app import App
from crawler.config.loader import Config
from crawler.config.sources import SourceSpec
from crawler.pipeline import run_status
from storage import queries


@dataclass(frozen=True)
class ProbedItem:
    url: str
    title: str
    author: str | None
    published_at: datetime | None
    parent_url: str | None
    text: str
    rules: list[str]


@dataclass(frozen=True)
class Probe:
    source_id: str
    status: str
    fetched: int
    failed: int
    errors: list[str]
    items: list[ProbedItem]


async def probe_source(config: Config, source: SourceSpec) -> Probe:
    with tempfile.TemporaryDirectory(prefix="yuqing-probe-") as scratch:
        app = await App.open(config, f"sqlite+aiosqlite:///{scratch}/probe.db", Path(scratch))
        try:
            stats = await app.patrol(source, "manual")
            async with app.sessions() as session:
                rows = await queries.list_items(session, source.id)
                hits = await queries.list_hits(session, limit=10_000, source_id=source.id)
        finally:
            await app.close()
    rules: dict[str, list[str]] = {}
    for hit in hits:
        rules.setdefault(hit.url, []).append(hit.rule_id)
    items = [ProbedItem(r.url, r.title, r.author, r.published_at, r.parent_url, r.text, sorted(rules.get(r.url, [])))
             for r in rows]
    assert stats is not None  # a fresh App has no run of this source going on
    return Probe(source.id, run_status(stats), stats.fetched, stats.failed, stats.errors, items)
