"""A loopback news site and feed with known answers, and the config that patrols it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from loopback import Site, SmtpReceiver, WebhookReceiver
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

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


def article(title: str, body: str, charset: str = "utf-8", filler: str = "") -> str:
    """A news page; ``filler`` is a second paragraph (pages sharing one would read as one story)."""
    return f"""<!doctype html><html><head><meta charset="{charset}"><title>{title}_化隆新闻网</title></head>
<body><div class="nav"><a href="/">首页</a> <a href="/list.html">新闻</a></div>
<div class="article"><h1>{title}</h1><p class="info">来源：化隆新闻网 2026-11-30 13:05</p>
<p>{body}</p><p>{filler}</p></div><div class="footer">版权所有 化隆新闻网</div></body></html>"""


PAGES = {
    "/news/1.html": article("幼儿园午餐后多名幼儿不适", "有家长反映，化隆二幼多名幼儿午餐后出现呕吐症状，已送医观察。"),
    "/news/2.html": article("县里举行食品安全应急演练", "化隆县第二幼儿园今天举行食物中毒应急演练，模拟幼儿呕吐送医流程。"),
    "/news/3.html": article("县二幼开展读书月活动", "县二幼开展读书月活动。" + FILLER + "另据报道，外地一所学校发生腹泻病例。"),
    "/news/4.html": article("城区道路改造完成", "城区主干道改造工程完工，通行能力提升。", filler=FILLER),
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


def write_config(folder: Path, site: Site, smtp: SmtpReceiver, hook: WebhookReceiver, every: str = "15m",
                 parse_workers: str = "auto") -> None:
    (folder / "keywords").mkdir(parents=True)
    (folder / "keywords" / "institution.yaml").write_text(INSTITUTION, encoding="utf-8")
    (folder / "keywords" / "rules.yaml").write_text(RULES, encoding="utf-8")
    (folder / "sources.yaml").write_text(f"""\
timezone: Asia/Shanghai
allow_private_networks: true
windows: always
defaults: {{every: {every}, per_host: 2, delay: 0s, jitter: 0s, retries: 0}}
parse_workers: {parse_workers}
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


async def cli(config: Path, data: Path, *args: str) -> tuple[int, str, str]:
    """``yuqing`` in this process (in a thread: the command runs its own event loop)."""
    from crawler.cli import app

    result = await asyncio.to_thread(CliRunner().invoke, app, ["--config", str(config), "--data", str(data), *args],
                                     env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def alert_mails(smtp: SmtpReceiver) -> list:
    """Mails about hits (source-health notices left out)."""
    return [m for m in smtp.messages if "舆情预警" in str(m["Subject"])]


def alert_posts(hook: WebhookReceiver) -> list:
    """Webhook posts about hits (source-health notices left out)."""
    return [(h, body) for h, body in hook.received if body["type"] == "alert"]


def notice_posts(hook: WebhookReceiver) -> list[tuple[str, str]]:
    return [(body["source_id"], body["kind"]) for _, body in hook.received if body["type"] == "source_health"]


def story(n: int) -> str:
    """Sixty characters of page n's own: each page is a different story, not a repost to fold."""
    return "".join(chr(0x4E00 + (n * 7919 + i * 104729) % 20000) for i in range(60))


async def one_row(db_url: str, sql: str) -> tuple:
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            return tuple((await conn.execute(text(sql))).one())
    finally:
        await engine.dispose()
