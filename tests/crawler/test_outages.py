"""Outages under a running daemon: channels down, the database locked by another process (SQLite
and PostgreSQL), the disk of the data folder full. Alerts wait, are retried, and all arrive once
after recovery; nothing is lost."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from datetime import datetime
from pathlib import Path

from e2e_site import (
    alert_mails,
    alert_posts,
    article,
    one_row,
    serve_site,
    story,
    write_config,
)
from loopback import Site, wait_for
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


def publish(site: Site, n: int) -> None:
    site.add(f"/news/out-{n}.html", article(f"家长反映化隆二幼幼儿呕吐（{n}）", f"第{n}位家长反映，化隆二幼孩子午饭后呕吐。",
                                            filler=story(n)))
    links = "".join(f'<li><a href="/news/out-{i}.html">第{i}条</a></li>' for i in range(n, 0, -1))
    site.add("/list.html", f'<html><body><ul class="news-list">{links}</ul></body></html>')


def only_the_news_source(config: Path) -> None:
    sources = config / "sources.yaml"
    sources.write_text(sources.read_text(encoding="utf-8").split("  - id: county-rss")[0], encoding="utf-8")


async def daemon(config: Path, data: Path, db_url: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "crawler.cli", "--config", str(config), "--data", str(data), "--db", db_url, "run",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)


async def count(db_url: str, sql: str) -> int:
    try:
        return int((await one_row(db_url, sql))[0])
    except Exception:  # noqa: BLE001  (the database may be locked on purpose right now)
        return -1


async def stop(proc: asyncio.subprocess.Process) -> str:
    if proc.returncode is None:
        proc.terminate()
    assert proc.stderr is not None
    log = (await proc.stderr.read()).decode()
    assert await asyncio.wait_for(proc.wait(), 20) == 0, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    return log


async def test_channels_down_and_database_locked(servers, tmp_path: Path, db_url: str) -> None:
    site, smtp, hook = servers
    serve_site(site, [])
    publish(site, 1)
    config, data = tmp_path / "config", tmp_path / "data"
    write_config(config, site, smtp, hook, every="1s")
    only_the_news_source(config)
    hook.status = 500
    smtp.stop()
    proc = await daemon(config, data, db_url)
    try:
        for _ in range(300):  # the alert is stored and its deliveries have failed at least once
            if await count(db_url, "select count(*) from deliveries where attempts >= 1 and status = 'pending'") == 2:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("deliveries were not retried")

        # another process holds the database for four seconds while a new matching page appears
        engine = create_async_engine(db_url)
        async with engine.connect() as conn:
            if db_url.startswith("sqlite"):
                await conn.exec_driver_sql("BEGIN EXCLUSIVE")
            else:
                await conn.execute(text("BEGIN"))
                await conn.execute(text("LOCK TABLE items, alerts, deliveries, runs IN ACCESS EXCLUSIVE MODE"))
            publish(site, 2)
            await asyncio.sleep(4)  # the daemon's next patrol waits for the lock (busy timeout), it does not fail
            await conn.rollback()
        await engine.dispose()
        await wait_for(lambda: proc.returncode is None)

        hook.status = 200
        smtp.start()
        await one_row(db_url, "select 1")
        engine = create_async_engine(db_url)
        async with engine.begin() as conn:  # skip the rest of the backoff wait
            await conn.execute(text("update deliveries set next_attempt_at = :t"), {"t": datetime(2000, 1, 1)})
        await engine.dispose()
        await wait_for(lambda: len(alert_posts(hook)) == 2 and len(alert_mails(smtp)) == 2, timeout_s=60)
        await asyncio.sleep(2)  # a duplicate would arrive now
    finally:
        await stop(proc)
    assert sorted(body["url"].rsplit("/", 1)[1] for _, body in alert_posts(hook)) == ["out-1.html", "out-2.html"]
    assert len({m["Message-ID"] for m in alert_mails(smtp)}) == 2
    assert await one_row(db_url, "select count(*), count(distinct url) from items") == (2, 2)
    assert await one_row(db_url, "select count(*) from deliveries where status <> 'sent'") == (0,)


async def test_disk_full_on_the_data_folder(servers, tmp_path: Path) -> None:
    """The data folder (database, WAL, evidence) on a 4 MB tmpfs that fills up while the daemon
    runs, then gets space again: the page that could not be stored is fetched again and stored
    once, its alert arrives once, the database is intact."""
    site, smtp, hook = servers
    serve_site(site, [])
    config, data, control = tmp_path / "config", tmp_path / "data", tmp_path / "control"
    control.mkdir()
    write_config(config, site, smtp, hook, every="1s")
    only_the_news_source(config)
    proc = await asyncio.create_subprocess_exec(
        "unshare", "--user", "--map-root-user", "--mount",
        sys.executable, str(Path(__file__).parents[1] / "diskfull.py"), str(config), str(data), str(control), "4m",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, start_new_session=True)
    try:
        await wait_for(lambda: (control / "started").exists(), timeout_s=30)
        await wait_for(lambda: site.hits.get("/list.html", 0) >= 1, timeout_s=60)  # database made, patrolling
        (control / "fill").touch()
        await wait_for(lambda: (control / "filled").exists(), timeout_s=30)
        publish(site, 1)
        # no room for a run's row, an item's evidence or its rows: patrols are skipped, said so, retried
        await wait_for(lambda: (control / "daemon.log").read_text(errors="replace").count("disk is full") >= 3,
                       timeout_s=60)
        assert alert_posts(hook) == [] and alert_mails(smtp) == []
        (control / "free").touch()
        await wait_for(lambda: len(alert_posts(hook)) == 1 and len(alert_mails(smtp)) == 1, timeout_s=60)
        await asyncio.sleep(2)  # a duplicate would arrive now
        (control / "stop").touch()
        assert await asyncio.wait_for(proc.wait(), 60) == 0
    finally:
        if proc.returncode is None:  # a failed test: take the daemon inside the namespace down too
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
    assert proc.stderr is not None
    log = (control / "daemon.log").read_text(errors="replace")
    result = json.loads((control / "result.json").read_text()) if (control / "result.json").exists() else None
    assert result is not None, (await proc.stderr.read()).decode()[-2000:] + log[-3000:]
    assert result["daemon_exit"] == 0 and result["integrity"] == "ok", log[-3000:]
    assert result["items"] == [1, 1] and set(result["deliveries"]) == {"sent"}, (result, log[-3000:])
    assert "巡查无法记录" in log and "Traceback" not in log, log[-3000:]
    assert len(alert_posts(hook)) == 1 and len(alert_mails(smtp)) == 1
