"""``kill -9`` of ``yuqing run`` at random moments while a site keeps publishing matching pages:
every page is stored once, every alert arrives, the database stays intact."""

from __future__ import annotations

import asyncio
import random
import sys
from collections import Counter
from pathlib import Path

import pytest
from e2e_site import article, one_row, serve_site, story, write_config
from loopback import Site, wait_for

KILLS = 20  # on each backend


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


@pytest.mark.timeout(420)
async def test_kill_9_loses_nothing_and_duplicates_nothing(servers, tmp_path: Path, db_url: str) -> None:
    site, smtp, hook = servers
    hook.delay_s = 0.3  # a slow receiver: some kills land while an alert is on the wire
    serve_site(site, [])
    config, data = tmp_path / "config", tmp_path / "data"
    write_config(config, site, smtp, hook, every="1s")
    (config / "sources.yaml").write_text(
        (config / "sources.yaml").read_text().split("  - id: county-rss")[0], encoding="utf-8")
    rng = random.Random(20261129)
    published = 0
    mid_delivery = on_wire = 0  # kills while alerts were on the wire; how many alerts were (reported)
    for kill in range(KILLS):
        for _ in range(2):
            published += 1
            publish(site, published)
        patrols = site.hits.get("/list.html", 0)
        proc = await start(config, data, db_url)
        if kill % 2:  # while an alert is on the wire (the receiver has it, the sender awaits the answer)
            await wait_for(lambda: hook.in_flight > 0, timeout_s=60)
        else:  # at a random moment of a patrol: fetching, parsing, storing or delivering
            await wait_for(lambda before=patrols: site.hits.get("/list.html", 0) > before, timeout_s=60)
            await asyncio.sleep(rng.uniform(0.0, 1.5))
        assert proc.returncode is None, (data.parent / "daemon.log").read_text()[-3000:]
        mid_delivery += hook.in_flight > 0
        on_wire += hook.in_flight
        proc.kill()
        await proc.wait()
    proc = await start(config, data, db_url)
    try:
        await wait_for(lambda: len(set(hook.keys())) == published and
                       len({m["Message-ID"] for m in smtp.messages}) == published, timeout_s=60)
        for _ in range(120):  # a delivery cut off mid-send is sent again once its lease (~10 s) runs out
            if await one_row(db_url, "select count(*) from deliveries where status <> 'sent'") == (0,):
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(2)  # anything sent twice would arrive now
    finally:
        proc.terminate()
        await proc.wait()

    if db_url.startswith("sqlite"):
        assert await one_row(db_url, "pragma integrity_check") == ("ok",)
    assert await one_row(db_url, "select count(*), count(distinct url) from items") == (published, published)
    assert await one_row(db_url, "select count(*) from alerts") == (published,)
    assert await one_row(db_url, "select count(*) from deliveries where status = 'sent'") == (2 * published,)
    # A resend can only come from a kill that landed between a send and the commit marking it sent
    # (the receiver had it, or was answering): it carries the same key / Message-ID, and it is a
    # new claim of the row after its lease, so a row is resent at most once per claim beyond its
    # first — never twice within one claim.
    hook_resent = sum(c - 1 for c in Counter(hook.keys()).values())
    mail_resent = sum(c - 1 for c in Counter(m["Message-ID"] for m in smtp.messages).values())
    hook_claims, mail_claims = await one_row(db_url, (
        "select coalesce(sum(case when channel = 'duty-hook' then attempts - 1 else 0 end), 0), "
        "coalesce(sum(case when channel = 'operator-mail' then attempts - 1 else 0 end), 0) from deliveries"))
    assert hook_resent <= hook_claims and mail_resent <= mail_claims, (hook_resent, hook_claims, mail_resent,
                                                                       mail_claims)
    resent = hook_resent + mail_resent
    print(f"kills={KILLS} (during a webhook delivery: {mid_delivery}, alerts on the wire: {on_wire}) "
          f"alerts={published} webhook={len(hook.keys())} mails={len(smtp.messages)} resent={resent}")
