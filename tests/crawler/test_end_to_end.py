"""The whole pipeline as a user runs it: ``yuqing crawl --once`` / ``yuqing run`` as real processes,
against a loopback news site and feed, a real SMTP server and a real webhook receiver."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from loopback import Site, SmtpReceiver, WebhookReceiver, wait_for

INSTITUTION = """\
group: 本单位
terms: [化隆县第二幼儿园, 化隆二幼, 县二幼]
"""
RULES = """\
rules:
  - id: food-safety
    category: 安全生产
    require: 本单位              # a group must be mentioned …
    any: [食物中毒, 腹泻, 呕吐]   # … with one of these …
    near: 40                     # … within 40 characters
    not: [演练, 培训]
    grade: 重大
  - id: fees
    category: 损害单位声誉
    require: 本单位
    any: [乱收费]
    near: 40
    grade: 一般
"""

FILLER = "县城今天天气晴朗，街道整洁，市民在广场上散步，商户照常营业，交通秩序良好。" * 2


def article(title: str, body: str, charset: str = "utf-8") -> str:
    return f"""<!doctype html><html><head><meta charset="{charset}"><title>{title}_化隆新闻网</title></head>
<body><div class="nav"><a href="/">首页</a> <a href="/list.html">新闻</a></div>
<div class="article"><h1>{title}</h1><p class="info">来源：化隆新闻网 2026-11-30 13:05</p>
<p>{body}</p><p>{FILLER}</p></div><div class="footer">版权所有 化隆新闻网</div></body></html>"""


PAGES = {
    "/news/1.html": article("幼儿园午餐后多名幼儿不适", "有家长反映，化隆二幼多名幼儿午餐后出现呕吐症状，已送医观察。"),
    "/news/2.html": article("县里举行食品安全应急演练", "化隆县第二幼儿园今天举行食物中毒应急演练，模拟幼儿呕吐送医流程。"),
    "/news/3.html": article("县二幼开展读书月活动", "县二幼开展读书月活动。" + FILLER + "另据报道，外地一所学校发生腹泻病例。"),
    "/news/4.html": article("城区道路改造完成", "城区主干道改造工程完工，通行能力提升。"),
    "/news/5.html": article("家长：孩子腹泻不止", "化隆县第二幼儿园小班有幼儿腹泻，家长希望园方说明情况。", "gbk"),
}
LIST = """<html><head><meta charset="utf-8"><title>新闻列表</title></head><body>
<ul class="news-list">{links}</ul><div class="ad"><a href="http://127.0.0.1:1/elsewhere">广告</a></div></body></html>"""
FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>化隆新闻 RSS</title><link>{base}/</link><description>化隆</description>
<item><title>家长反映县二幼乱收费</title><link>{base}/feed/a.html</link>
<description>有家长在论坛反映县二幼存在乱收费问题，要求退还兴趣班费用。</description>
<pubDate>Mon, 30 Nov 2026 05:00:00 GMT</pubDate></item>
<item><title>全县秋季运动会开幕</title><link>{base}/feed/b.html</link>
<description>全县中小学秋季运动会今天开幕。</description></item>
</channel></rss>"""

EXPECTED = {("/news/1.html", "food-safety"), ("/news/5.html", "food-safety"), ("/feed/a.html", "fees")}


def serve_site(site: Site, paths: list[str]) -> None:
    links = "".join(f'<li><a href="{p}">{p}</a></li>' for p in paths)
    site.add("/list.html", LIST.format(links=links))
    for path in paths:
        charset = "gbk" if 'charset="gbk"' in PAGES[path] else "utf-8"
        site.add(path, PAGES[path].encode(charset), "text/html")  # no charset header: <meta> must be used
    site.add("/rss.xml", FEED.format(base=site.base), "application/rss+xml")
    site.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", "text/plain")


def write_config(folder: Path, site: Site, smtp: SmtpReceiver, hook: WebhookReceiver, every: str = "15m") -> None:
    (folder / "keywords").mkdir(parents=True)
    (folder / "keywords" / "institution.yaml").write_text(INSTITUTION, encoding="utf-8")
    (folder / "keywords" / "rules.yaml").write_text(RULES, encoding="utf-8")
    (folder / "sources.yaml").write_text(f"""\
timezone: Asia/Shanghai
allow_private_networks: true
windows: always
defaults: {{every: {every}, per_host: 2, delay: 0s, jitter: 0s, retries: 0}}
sources:
  - id: county-news
    name: 化隆新闻网
    type: html
    url: {site.base}/list.html
    link_selector: "ul.news-list a"
  - id: county-rss
    name: 化隆新闻 RSS
    type: rss
    url: {site.base}/rss.xml
  - id: dead-site
    name: 已关闭的网站
    type: rss
    url: http://127.0.0.1:9/rss.xml
""", encoding="utf-8")
    (folder / "alerts.yaml").write_text(f"""\
channels:
  - type: email
    name: operator-mail
    smtp_host: 127.0.0.1
    smtp_port: {smtp.port}
    sender: yuqing@localhost
    to: [operator@localhost]
    timeout_s: 5
  - type: webhook
    name: duty-hook
    url: {hook.url}
    timeout_s: 5
""", encoding="utf-8")


async def yuqing(config: Path, data: Path, *args: str, timeout_s: float = 60) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "crawler.cli", "--config", str(config), "--data", str(data), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, "COLUMNS": "200"})
    out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    return proc.returncode or 0, out.decode(), err.decode()


@pytest.fixture
async def servers():
    site = await Site().start()
    hook = await WebhookReceiver().start()
    smtp = SmtpReceiver().start()
    yield site, smtp, hook
    smtp.stop()
    await hook.stop()
    await site.stop()


async def test_crawl_once_finds_exactly_the_right_hits_and_delivers(servers, tmp_path: Path) -> None:
    site, smtp, hook = servers
    serve_site(site, list(PAGES))
    config, data = tmp_path / "config", tmp_path / "data"
    write_config(config, site, smtp, hook)

    code, out, err = await yuqing(config, data, "check")
    assert code == 0, out + err
    assert "county-news" in out and "food-safety" in out

    code, out, err = await yuqing(config, data, "crawl", "--once")
    assert code == 0, out + err
    assert "dead-site" in out  # the dead source is reported, the others still ran

    code, out, _ = await yuqing(config, data, "hits", "--json")
    hits = json.loads(out)
    assert {(h["url"].removeprefix(site.base), h["rule_id"]) for h in hits} == EXPECTED
    by_url = {h["url"].removeprefix(site.base): h for h in hits}
    assert by_url["/news/1.html"]["grade"] == "重大" and by_url["/news/1.html"]["category"] == "安全生产"
    assert set(by_url["/news/1.html"]["terms"]) == {"化隆二幼", "呕吐"}
    assert "呕吐" in by_url["/news/1.html"]["snippet"]
    assert by_url["/news/5.html"]["title"] == "家长：孩子腹泻不止"  # the GBK page decoded

    assert len(smtp.messages) == 3 and len(hook.received) == 3
    assert sorted(h["Idempotency-Key"] for h, _ in hook.received) == sorted(
        m["X-Yuqing-Idempotency-Key"] for m in smtp.messages)
    assert {body["url"].removeprefix(site.base) for _, body in hook.received} == {u for u, _ in EXPECTED}
    subjects = " ".join(str(m["Subject"]) for m in smtp.messages)
    assert "重大" in subjects and "一般" in subjects

    # A second patrol: nothing new is fetched again, matched again or sent again.
    code, out, err = await yuqing(config, data, "crawl", "--once")
    assert code == 0, out + err
    assert all(site.hits[p] == 1 for p in PAGES)
    assert len(smtp.messages) == 3 and len(hook.received) == 3

    ledger = sqlite3.connect(data / "yuqing.db").execute(
        "select source_id, status, new_items from runs order by id").fetchall()
    assert ("dead-site", "failed", 0) in ledger and ("county-news", "ok", 5) in ledger


async def test_dead_channels_wait_and_deliver_later(servers, tmp_path: Path) -> None:
    site, smtp, hook = servers
    serve_site(site, ["/news/1.html"])
    config, data = tmp_path / "config", tmp_path / "data"
    write_config(config, site, smtp, hook)
    hook.status = 500
    smtp.stop()  # the mail server is down
    code, out, err = await yuqing(config, data, "crawl", "--once")
    assert code == 0, out + err
    assert "pending 2" in out  # one alert, two channels, both waiting
    assert hook.received == []
    hook.status = 200
    smtp.start()
    db = sqlite3.connect(data / "yuqing.db")
    db.execute("update deliveries set next_attempt_at = '2000-01-01 00:00:00'")  # skip the backoff wait
    db.commit()
    db.close()
    code, out, err = await yuqing(config, data, "crawl", "--once")
    assert code == 0, out + err
    assert len(hook.received) == 1 and len(smtp.messages) == 1


async def test_daemon_patrols_new_pages_and_stops_gracefully(servers, tmp_path: Path) -> None:
    site, smtp, hook = servers
    serve_site(site, ["/news/4.html"])
    config, data = tmp_path / "config", tmp_path / "data"
    write_config(config, site, smtp, hook, every="1s")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "crawler.cli", "--config", str(config), "--data", str(data), "run",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        await wait_for(lambda: site.hits.get("/news/4.html", 0) >= 1)
        serve_site(site, ["/news/4.html", "/news/1.html"])  # a new matching page appears
        await wait_for(lambda: len(hook.received) == 1 and len(smtp.messages) == 1)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    stderr = (await proc.stderr.read()).decode()
    assert "Traceback" not in stderr, stderr
    assert "fetch source=county-news" in stderr and "status=200" in stderr
    runs = sqlite3.connect(data / "yuqing.db").execute(
        "select count(*), count(distinct source_id) from runs where status in ('ok', 'failed')").fetchone()
    assert runs[0] >= 3 and runs[1] == 3
