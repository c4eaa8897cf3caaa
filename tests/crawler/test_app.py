"""App.patrol: how many runs of one process go at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from e2e_site import serve_site, write_config

import crawler.app as app_module
from crawler.app import App
from crawler.config.loader import load_config


async def test_patrols_beyond_the_cap_wait_their_turn(servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A window opening starts every source at once; only MAX_PATROLS run (bench/sources.py: 10,000
    at once exhausted the database pool), the others wait and then run in full."""
    site, smtp, hook = servers
    serve_site(site, ["/news/1.html"])
    write_config(tmp_path / "config", site, smtp, hook)
    monkeypatch.setattr(app_module, "MAX_PATROLS", 2)
    inside = most = 0
    real = app_module.crawl_source

    async def counting(*args: object, **kwargs: object) -> object:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        try:
            await asyncio.sleep(0.05)  # long enough for every waiting patrol to try to start
            return await real(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            inside -= 1

    monkeypatch.setattr(app_module, "crawl_source", counting)
    config = load_config(tmp_path / "config")
    app = await App.open(config, f"sqlite+aiosqlite:///{tmp_path / 'y.db'}", tmp_path)
    try:
        results = await asyncio.gather(*(app.patrol(s, "manual") for s in config.enabled_sources()))
    finally:
        await app.close()
    assert most == 2
    assert len(results) == 3 and all(stats is not None for stats in results)
    assert results[0] is not None and results[0].new_items == 1  # the waiting ones still ran in full
