"""The adapter registry and the adapters' list/detail contract with the pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from crawler.adapters import ADAPTERS, HtmlAdapter, Listing, ParseError, RssAdapter, adapter_for
from crawler.config.sources import SOURCE_TYPES, SourceSpec

if TYPE_CHECKING:
    from conftest import MakeResult

LIST_URL = "http://www.rtfund.com/main/xxpl/index.shtml"


def html_source(**extra: str) -> SourceSpec:
    return SourceSpec(id="rtfund", type="html", url=LIST_URL, link_selector="#expertList1 a", **extra)


def test_registry_keys_are_source_types_with_one_line_help() -> None:
    assert {"rss", "html"} <= set(ADAPTERS)
    assert set(ADAPTERS) <= set(SOURCE_TYPES)
    for adapter in ADAPTERS.values():
        doc = (type(adapter).__doc__ or "").strip()
        assert doc and "\n" not in doc


def test_adapter_for_names_what_exists() -> None:
    assert isinstance(adapter_for("rss"), RssAdapter)
    assert isinstance(adapter_for("html"), HtmlAdapter)
    with pytest.raises(LookupError, match="'weibo'.*" + ", ".join(sorted(ADAPTERS))):
        adapter_for("weibo")


def test_registry_is_read_only() -> None:
    with pytest.raises(TypeError):
        ADAPTERS["rss"] = HtmlAdapter()  # type: ignore[index]


def test_start_urls_is_the_source_url() -> None:
    assert HtmlAdapter().start_urls(html_source()) == [LIST_URL]


def test_html_list_page_gives_links(make_result: MakeResult) -> None:
    listing = HtmlAdapter().parse_list(make_result(Path("news/gerapy/list_rtfund_xxpl.html"), LIST_URL), html_source())
    assert listing.items == [] and len(listing.links) == 15


def test_html_list_page_without_links_is_an_error(make_result: MakeResult) -> None:
    """A redesigned list page must show up in the patrol ledger, not as a quiet run with nothing."""
    with pytest.raises(ParseError, match="matched no links"):
        HtmlAdapter().parse_list(make_result("<p>改版了</p>", LIST_URL), html_source())


def test_html_detail_page_gives_the_article(make_result: MakeResult) -> None:
    page = "<title>标题_站名</title><div><p>正文第一段，内容。</p></div>"
    [item] = HtmlAdapter().parse_detail(make_result(page, "http://www.rtfund.com/main/a/1.shtml"), html_source())
    assert (item.url, item.source_id, item.title, item.text) == (
        "http://www.rtfund.com/main/a/1.shtml", "rtfund", "标题", "正文第一段，内容。")


def test_detail_page_uses_the_source_selectors(make_result: MakeResult) -> None:
    page = "<h1>栏目</h1><h2 class='t'>真标题</h2><div class='c'>真正文</div><div><p>" + "别的文字，" * 50 + "</p></div>"
    source = html_source(title_selector="h2.t", text_selector="div.c")
    [item] = HtmlAdapter().parse_detail(make_result(page), source)
    assert (item.title, item.text) == ("真标题", "真正文")


def test_detail_page_where_the_text_selector_finds_nothing_is_an_error(make_result: MakeResult) -> None:
    with pytest.raises(ParseError, match="text_selector"):
        HtmlAdapter().parse_detail(make_result("<h1>标题</h1><p>正文</p>"), html_source(text_selector="div.gone"))


def test_empty_detail_page_is_an_error(make_result: MakeResult) -> None:
    with pytest.raises(ParseError, match="no title or text"):
        HtmlAdapter().parse_detail(make_result(""), html_source())


def test_rss_entries_are_items_and_title_only_entries_are_links(make_result: MakeResult) -> None:
    feed = """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>
      <item><title>有摘要</title><link>http://www.example.cn/1.html</link><description>摘要</description></item>
      <item><title>只有标题</title><link>http://www.example.cn/2.html</link></item></channel></rss>"""
    source = SourceSpec(id="feed", type="rss", url="http://www.example.cn/rss.xml")
    listing = RssAdapter().parse_list(make_result(feed, "http://www.example.cn/rss.xml", content_type="text/xml"), source)
    assert isinstance(listing, Listing)
    assert [i.title for i in listing.items] == ["有摘要"]
    assert listing.links == ["http://www.example.cn/2.html"]
