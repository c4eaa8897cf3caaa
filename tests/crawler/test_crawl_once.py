"""crawl_once: one source whose run cannot even be recorded does not stop the others."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_site import serve_site, write_config
from sqlalchemy.exc import TimeoutError as PoolTimeout

from crawler.config.loader import load_config
from crawler.crawl_once import crawl_once
from storage import queries


async def test_a_run_that_cannot_be_recorded_fails_alone(servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """bench/sources.py: one pool time-out while recording a run ended the whole crawl --once."""
    site, smtp, hook = servers
    serve_site(site, ["/news/4.html"])
    write_config(tmp_path / "config", site, smtp, hook)
    real = queries.start_run

    async def busy_for_dead_site(session, source_id, *args, **kwargs):  # type: ignore[no-untyped-def]
        if source_id == "dead-site":
            raise PoolTimeout("QueuePool limit of size 5 overflow 10 reached")
        return await real(session, source_id, *args, **kwargs)

    monkeypatch.setattr(queries, "start_run", busy_for_dead_site)
    config = load_config(tmp_path / "config")
    summary = await crawl_once(config, f"sqlite+aiosqlite:///{tmp_path / 'y.db'}", tmp_path, config.enabled_sources())
    assert {source: status for source, (status, _) in summary.runs.items()} == {
        "county-news": "ok", "county-rss": "ok", "dead-site": "failed"}
    assert "QueuePool" in summary.runs["dead-site"][1].errors[0]
    assert summary.sent >= 1  # the other sources' alerts were still delivered
