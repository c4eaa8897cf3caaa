"""The RSS/Atom adapter on real Chinese feeds, and on the ways feeds go wrong."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from crawler.adapters import ParseError
from crawler.adapters.rss import parse_feed

if TYPE_CHECKING:
    from conftest import MakeResult

UTC = timezone.utc
FEED_URL = "http://www.example.cn/rss/index.xml"


def rss(items: str, encoding: str = "utf-8") -> str:
    return (f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel><title>化隆新闻</title>'
            f"<link>http://www.example.cn/</link>{items}</channel></rss>")


def test_rss2_feed(make_result: MakeResult) -> None:
    result = make_result(Path("rss/rodel_meituan_rss.xml"), "https://tech.meituan.com/feed/",
                         content_type="application/rss+xml")
    items = parse_feed(result, "meituan")
    assert len(items) == 10
    first = items[0]
    assert first.url == "https://tech.meituan.com/2025/11/21/longcat-interaction-wowservice.html"
    assert first.title == "美团 LongCat Interaction 团队发布大模型交互系统技术报告 WOWService"
    assert first.author == "美团技术团队"
    assert first.published_at == datetime(2025, 11, 21, tzinfo=UTC)
    assert first.text.startswith("美团 LongCat 团队正式发布——「WOWService 大模型交互系统技术报告」")
    assert first.source_id == "meituan" and first.fetched_at == result.fetched_at
    assert len({i.url for i in items}) == 10


def test_atom_feed_with_blank_line_before_the_xml_declaration(make_result: MakeResult) -> None:
    """The saved feed starts with a newline, as PHP templates often send it. Without a charset in
    the response, feedparser alone then falls back to Latin-1 and the author comes out as mojibake."""
    result = make_result(Path("rss/rodel_ruanyifeng_atom.xml"), "http://www.ruanyifeng.com/blog/atom.xml",
                         content_type=None)
    assert result.body.startswith(b"\n")
    items = parse_feed(result, "ruanyf")
    assert [i.url for i in items][0] == "http://www.ruanyifeng.com/blog/2025/11/weekly-issue-375.html"
    first = items[0]
    assert first.title == "科技爱好者周刊（第 375 期）：一扇门的 Bug"
    assert first.author == "阮一峰"
    assert first.published_at == datetime(2025, 11, 28, 0, 14, 6, tzinfo=UTC)  # <published>, not <updated>
    # The full <content>, not the "..." <summary>; HTML gone, a sentence with links kept whole.
    assert len(first.text) > 1000
    assert "本杂志开源，欢迎投稿。" in first.text
    assert "<" not in first.text and "这里记录每周值得分享的科技内容，周五发布。\n" in first.text


def test_links_are_canonical_and_relative_to_the_feed(make_result: MakeResult) -> None:
    feed = rss("<item><title>一</title><link>/news/1.html?utm_source=rss&amp;id=3#top</link><description>甲</description></item>"
               "<item><title>二</title><link>2.html</link><description>乙</description></item>"
               "<item><title>重复</title><link>http://WWW.example.cn:80/news/1.html?id=3</link><description>丙</description></item>"
               "<item><title>无链接</title><description>丁</description></item>"
               "<item><title>坏链接</title><link>http://e.cn:xx/</link><description>戊</description></item>"
               "<item><title>脚本</title><link>javascript:alert(1)</link><description>己</description></item>")
    items = parse_feed(make_result(feed, FEED_URL, content_type="text/xml"), "s")
    assert [(i.url, i.title) for i in items] == [("http://www.example.cn/news/1.html?id=3", "一"),
                                                 ("http://www.example.cn/rss/2.html", "二")]


@pytest.mark.parametrize(
    ("pub_date", "expected"),
    [
        ("Tue, 05 Mar 2024 14:02:00 +0800", datetime(2024, 3, 5, 6, 2, tzinfo=UTC)),
        ("Tue, 05 Mar 2024 06:02:00 GMT", datetime(2024, 3, 5, 6, 2, tzinfo=UTC)),
        # Without an offset a Chinese feed means Beijing time (feedparser alone would say UTC) …
        ("2024-03-05 14:02:00", datetime(2024, 3, 5, 6, 2, tzinfo=UTC)),
        # … and feedparser alone reads this one as 2024-11-01.
        ("2024年03月05日 14:02", datetime(2024, 3, 5, 6, 2, tzinfo=UTC)),
        ("2024-03-05T14:02:00+08:00", datetime(2024, 3, 5, 6, 2, tzinfo=UTC)),
        ("昨天", None),
    ],
)
def test_publication_time(make_result: MakeResult, pub_date: str, expected: datetime | None) -> None:
    feed = rss(f"<item><title>t</title><link>http://www.example.cn/1.html</link><pubDate>{pub_date}</pubDate></item>")
    [item] = parse_feed(make_result(feed, FEED_URL, content_type="text/xml"), "s")
    assert item.published_at == expected


def test_atom_updated_when_there_is_no_published(make_result: MakeResult) -> None:
    feed = """<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
      <entry><title type="text">1&lt;2 且 A &amp; B</title><link href="http://www.example.cn/1.html"/>
      <updated>2024-03-05T06:02:00Z</updated><summary type="text">x&lt;y 原样保留</summary></entry></feed>"""
    [item] = parse_feed(make_result(feed, FEED_URL, content_type="application/atom+xml"), "s")
    assert item.published_at == datetime(2024, 3, 5, 6, 2, tzinfo=UTC)
    assert item.title == "1<2 且 A & B"
    assert item.text == "x<y 原样保留"  # plain text is not run through the HTML parser
    assert item.author is None


def test_gbk_feed_decoded_from_its_declaration(make_result: MakeResult) -> None:
    feed = rss("<item><title>化隆二幼通报</title><link>http://www.example.cn/1.html</link>"
               "<description>&lt;p&gt;幼儿呕吐&lt;/p&gt;</description><author>县教育局</author></item>", "gbk")
    result = make_result(feed.encode("gbk"), FEED_URL, encoding="gbk", content_type="text/xml")
    [item] = parse_feed(result, "s")
    assert (item.title, item.text, item.author) == ("化隆二幼通报", "幼儿呕吐", "县教育局")


def test_truncated_feed_still_yields_its_entries(make_result: MakeResult) -> None:
    feed = rss("<item><title>完整</title><link>http://www.example.cn/1.html</link><description>甲</description></item>")
    truncated = feed[: feed.index("</channel>")] + "<item><title>断"
    items = parse_feed(make_result(truncated, FEED_URL, content_type="text/xml"), "s")
    assert [i.title for i in items] == ["完整"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("<html><head><title>404 Not Found</title></head><body>页面不存在</body></html>", "text/html"),
        ("", "text/xml"),
        ("\x00\x01 not xml at all <<<", None),
        ('<?xml version="1.0"?><rss version="2.0"><channel><title>化隆新闻</ti', "text/xml"),
    ],
    ids=["html-error-page", "empty", "garbage", "broken-before-any-entry"],
)
def test_not_a_feed_is_a_parse_error(make_result: MakeResult, body: str, content_type: str | None) -> None:
    with pytest.raises(ParseError, match="not a feed") as caught:
        parse_feed(make_result(body, FEED_URL, content_type=content_type), "s")
    assert "RSS/Atom" in caught.value.reason


def test_valid_empty_feed_is_no_error(make_result: MakeResult) -> None:
    assert parse_feed(make_result(rss(""), FEED_URL, content_type="text/xml"), "s") == []
