"""``kill -9`` of ``yuqing run`` at random moments while a site keeps publishing matching pages:
every page is stored once, every alert arrives, the database stays intact."""

from __future__ import annotations

import asyncio
import random
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from loopback import Site, wait_for
from e2e_site import article, serve_site, write_config

KILLS = 8


def story(n: int) -> str:
    """Sixty characters of page n's own: each page is a different story, not a repost to fold."""
    return "".join(chr(0x4E00 + (n * 7919 + i * 104729) % 20000) for i in range(60))


def publish(site: Site, n: int) -> None:
    """Page n mentions the kindergarten with a symptom: one food-safety alert each."""
    site.add(f"/news/live-{n}.html", article(f"家长反映化隆二幼幼儿不适（{n}）",
                                             f"第{n}位家长反映，化隆二幼孩子午饭后呕吐。", filler=story(n)))
    links = "".join(f'<li><a href="/news/live-{i}.html">第{i}条</a></li>' for i in range(n, 0, -1))
    site.add("/list.html", f'<html><body><ul class="news-list">{links}</ul></body></html>')


async def start(config: Path, data: Path, db_url: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "crawler.cli", "--config", str(config), "--data", str(data), "--db", db_url, "run",
        stdout=asyncio.subprocess.DEVNULL, stderr=open(data.parent / "daemon.log", "ab"))


async def one_row(db_url: str, sql: str) -> tuple:
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            return tuple((await conn.execute(text(sql))).one())
    finally:
        await engine.dispose()


async def test_kill_9_loses_nothing_and_duplicates_nothing(servers, tmp_path: Path, db_url: str) -> None:
    site, smtp, hook = servers
    kills = KILLS if db_url.startswith("sqlite") else KILLS // 2
    serve_site(site, [])
    config, data = tmp_path / "config", tmp_path / "data"
    write_config(config, site, smtp, hook, every="1s")
    (config / "sources.yaml").write_text(
        (config / "sources.yaml").read_text().split("  - id: county-rss")[0], encoding="utf-8")
    rng = random.Random(20261129)
    published = 0
    for _ in range(kills):
        for _ in range(2):
            published += 1
            publish(site, published)
        proc = await start(config, data, db_url)
        await asyncio.sleep(rng.uniform(2.0, 7.0))  # start-up takes ~3 s; then crawling or delivery
        assert proc.returncode is None, (data.parent / "daemon.log").read_text()[-3000:]
        proc.kill()
        await proc.wait()
    proc = await start(config, data, db_url)
    try:
        await wait_for(lambda: len(set(hook.keys())) == published and
                       len({m["Message-ID"] for m in smtp.messages}) == published, timeout_s=60)
        await asyncio.sleep(2)  # anything sent twice would arrive now
    finally:
        proc.terminate()
        await proc.wait()

    if db_url.startswith("sqlite"):
        assert await one_row(db_url, "pragma integrity_check") == ("ok",)
    assert await one_row(db_url, "select count(*), count(distinct url) from items") == (published, published)
    assert await one_row(db_url, "select count(*) from alerts") == (published,)
    assert await one_row(db_url, "select count(*) from deliveries where status = 'sent'") == (2 * published,)
    # A resend can only come from a kill that landed between the receiver's acceptance and our
    # commit (milliseconds); it carries the same key, and it can never exceed the number of kills.
    resent = sum(c - 1 for c in Counter(hook.keys()).values()) + sum(
        c - 1 for c in Counter(m["Message-ID"] for m in smtp.messages).values())
    assert resent <= kills
    print(f"kills={kills} alerts={published} webhook={len(hook.keys())} mails={len(smtp.messages)} resent={resent}")
