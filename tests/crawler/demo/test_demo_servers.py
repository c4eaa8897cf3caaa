"""The demo's news site and mail sink, over real HTTP and SMTP on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path

import aiohttp
import aiosmtplib
import pytest
from aiohttp import web
from multidict import CIMultiDict
from selectolax.lexbor import LexborHTMLParser

from alerts.notifiers import EmailNotifier
from crawler.demo.site import start_demo_site
from crawler.demo.smtp_sink import SmtpSink, eml_name, start_smtp_sink
from crawler.types import AlertPayload

ARTICLES = {f"/news/{n}.html" for n in range(1027, 1033)}


@pytest.fixture
async def site() -> AsyncIterator[str]:
    runner: web.AppRunner
    runner, base = await start_demo_site()
    yield base
    await runner.cleanup()


@pytest.fixture
async def sink(tmp_path: Path) -> AsyncIterator[SmtpSink]:
    sink = await start_smtp_sink(tmp_path / "mail")
    yield sink
    sink.stop()


async def get(url: str, **headers: str) -> tuple[int, Mapping[str, str], bytes]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        return response.status, CIMultiDict(response.headers), await response.read()


async def test_index_lists_the_six_articles(site: str) -> None:
    assert site.startswith("http://127.0.0.1:")
    status, headers, body = await get(f"{site}/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    links = [a.attributes["href"] for a in LexborHTMLParser(body.decode("utf-8")).css("ul.news-list a")]
    assert {"/" + link.lstrip("/") for link in links} == ARTICLES
    for path in ARTICLES:
        status, _, _ = await get(site + path)
        assert status == 200, path


async def test_gbk_article_is_served_without_a_charset(site: str) -> None:
    status, headers, body = await get(f"{site}/news/1032.html")
    assert status == 200 and headers["Content-Type"] == "text/html"
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    text = body.decode("gb18030")
    assert '<meta charset="gbk">' in text
    assert "<h1>县卫健局通报：县二幼部分幼儿腹泻系诺如病毒感染</h1>" in text
    assert "化隆二幼已对教室、餐具和玩具进行全面消毒" in text


async def test_rss_links_point_at_this_site(site: str) -> None:
    status, headers, body = await get(f"{site}/rss.xml")
    assert status == 200 and headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    text = body.decode("utf-8")
    assert f"<link>{site}/news/1032.html</link>" in text and "${BASE_URL}" not in text
    assert "化隆二幼部分幼儿" in text and "腹泻" in text


async def test_robots_conditional_get_and_404(site: str) -> None:
    status, headers, body = await get(f"{site}/robots.txt")
    assert status == 200 and b"Allow: /" in body and headers["Content-Type"].startswith("text/plain")
    status, headers, _ = await get(f"{site}/news/1031.html")
    status, _, body = await get(f"{site}/news/1031.html", **{"If-None-Match": headers["ETag"]})
    assert status == 304 and body == b""
    for path in ("/news/9999.html", "/../site.py", "/%2e%2e/site.py", "/news/"):
        assert (await get(site + path))[0] == 404, path


async def test_sink_saves_each_message_as_eml(sink: SmtpSink) -> None:
    message = EmailMessage()
    message["From"] = "yuqing@localhost"
    message["To"] = "operator@localhost"
    message["Subject"] = "【舆情预警·重大】测试"
    message["Message-ID"] = "<yuqing-abc/123@yuqing.local>"
    message.set_content("化隆二幼 测试邮件")
    await aiosmtplib.send(message, hostname="127.0.0.1", port=sink.port, timeout=5)

    assert sink.count == 1
    [saved] = list(sink.folder.glob("*.eml"))
    assert saved.name == "1-yuqing-abc_123@yuqing.local.eml"
    received = email.message_from_bytes(saved.read_bytes(), policy=email.policy.default)
    assert received["Subject"] == "【舆情预警·重大】测试"


async def test_sink_takes_a_real_alert_and_never_overwrites(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    (folder / "7-old.eml").write_bytes(b"Subject: old\r\n\r\nold\r\n")
    sink = await start_smtp_sink(folder)
    try:
        alert = AlertPayload(
            alert_id=1, idempotency_key="k1", grade="重大", category="安全生产", rule_id="food-safety",
            matched_terms=("化隆二幼", "呕吐"), snippet="化隆二幼多名幼儿午餐后呕吐", url="http://127.0.0.1/news/1031.html",
            title="家长反映化隆二幼多名幼儿午餐后呕吐", source_id="demo-news", source_name="化隆县新闻网",
            found_at=datetime(2026, 11, 24, 5, 7, tzinfo=timezone.utc))
        notifier = EmailNotifier(key="演示邮箱", smtp_host="127.0.0.1", smtp_port=sink.port,
                                 sender="yuqing-demo@localhost", to=["operator@localhost"], timeout_s=5)
        await notifier.send(alert)
    finally:
        sink.stop()
    assert (folder / "8-yuqing-k1@yuqing.local.eml").is_file()
    assert (folder / "7-old.eml").read_bytes().startswith(b"Subject: old")


def test_eml_name_is_safe() -> None:
    assert eml_name(3, None) == "3-no-id.eml"
    assert eml_name(4, "<../../etc/passwd>") == "4-etc_passwd.eml"
