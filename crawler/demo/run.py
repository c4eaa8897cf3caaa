"""``yuqing demo``: the whole pipeline offline, on a bundled loopback news site and mail sink.

Everything lives under DATA/demo (config, database, mailbox), apart from the user's own data.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import shutil
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console

from crawler.app import App, data_db_url
from crawler.config.loader import load_config
from crawler.daemon import Daemon
from crawler.demo.site import start_demo_site
from crawler.demo.smtp_sink import start_smtp_sink
from storage import queries

SOURCES = """\
# 演示配置：由 yuqing demo 自动生成，指向本机演示站点。
timezone: Asia/Shanghai
allow_private_networks: ["127.0.0.0/8"]    # 演示站点在本机；其他内网地址仍然拒绝
windows: always
defaults: {{every: {every}s, per_host: 2, delay: 0.2s, jitter: 0s}}
sources:
  - id: demo-news
    name: 化隆县新闻网（演示）
    type: html
    url: {base}/index.html
    link_selector: "ul.news-list a"
  - id: demo-rss
    name: 化隆县新闻网 RSS（演示）
    type: rss
    url: {base}/rss.xml
"""

ALERTS = """\
channels:
  - type: email
    name: 演示邮箱
    smtp_host: 127.0.0.1
    smtp_port: {port}
    sender: yuqing-demo@localhost
    to: [operator@localhost]
"""


def write_demo_config(folder: Path, base_url: str, smtp_port: int, every_s: int) -> None:
    """The demo's config folder: generated sources and alerts, the bundled sample keywords."""
    (folder / "keywords").mkdir(parents=True, exist_ok=True)
    (folder / "sources.yaml").write_text(SOURCES.format(base=base_url, every=every_s), encoding="utf-8")
    (folder / "alerts.yaml").write_text(ALERTS.format(port=smtp_port), encoding="utf-8")
    bundled = resources.files("crawler.demo") / "keywords"
    for entry in bundled.iterdir():
        if entry.name.endswith(".yaml"):
            (folder / "keywords" / entry.name).write_bytes(entry.read_bytes())


async def _report(app: App, mailbox: Path, console: Console, stop: asyncio.Event) -> None:
    """Print each new hit and each mail that reached the mailbox, as they happen."""
    tz = ZoneInfo("Asia/Shanghai")
    shown_hits: set[int] = set()
    shown_mail: set[str] = set()
    while not stop.is_set():
        async with app.sessions() as session:
            hits = await queries.list_hits(session, limit=500)
        for hit in reversed(hits):
            if hit.hit_id not in shown_hits:
                shown_hits.add(hit.hit_id)
                console.print(f"[bold red]【命中】[/] {hit.found_at.astimezone(tz):%H:%M:%S} {hit.grade}·{hit.category} "
                              f"规则 {hit.rule_id} 命中词 {'、'.join(hit.terms)} — {hit.title}\n        {hit.snippet}\n"
                              f"        {hit.url}", highlight=False)
        for path in sorted(mailbox.glob("*.eml")):
            if path.name not in shown_mail:
                shown_mail.add(path.name)
                message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                console.print(f"[bold green]【已发送告警邮件】[/] {message['Subject']} → {path}", highlight=False)
        try:
            await asyncio.wait_for(stop.wait(), timeout=1.0)
        except TimeoutError:
            pass


async def run_demo(data_dir: Path, db_url: str | None, every_s: int, console: Console) -> None:
    root = data_dir / "demo"
    mailbox = root / "mail"
    shutil.rmtree(root / "config", ignore_errors=True)
    mailbox.mkdir(parents=True, exist_ok=True)
    site, base_url = await start_demo_site()
    sink = await start_smtp_sink(mailbox)
    try:
        write_demo_config(root / "config", base_url, sink.port, every_s)
        config = load_config(root / "config")
        app = await App.open(config, data_db_url(root, db_url), root)
        console.print(f"[bold]yuqing 演示[/]：演示站点 {base_url}/index.html ，邮件保存到 {mailbox} ，"
                      f"数据库 {root / 'yuqing.db'}\n每 {every_s} 秒巡查一次；按 Ctrl-C 退出。", highlight=False)
        daemon = Daemon(app, root / "config")
        reporter = asyncio.ensure_future(_report(app, mailbox, console, daemon.stop))
        try:
            await daemon.run()
        finally:
            await reporter
            await app.close()
        console.print("演示已停止 demo stopped.")
    finally:
        sink.stop()
        await site.cleanup()
