"""Site adapters: what a fetched page means, per source ``type`` in ``sources.yaml``.

Every source is a two-level crawl. The pipeline fetches each of ``start_urls``; ``parse_list``
turns such a page into finished items and/or links to article pages; the pipeline fetches the
links it has not seen and ``read_detail`` turns each into items and, for a forum thread, its
further pages (later pages, 楼中楼 pages), which the pipeline fetches too. Adapters do no I/O, so
each is tested on saved pages. ``ADAPTERS`` maps the type a user writes to its adapter; an adapter's
docstring is its one-line help text.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from crawler.adapters.base import Adapter, Detail, Listing
from crawler.adapters.discuz import DiscuzAdapter
from crawler.adapters.errors import ParseError
from crawler.adapters.html import extract_links
from crawler.adapters.news import news_links
from crawler.adapters.rss import parse_feed
from crawler.adapters.tieba import TiebaAdapter
from crawler.types import FetchResult

if TYPE_CHECKING:
    from crawler.config.sources import SourceSpec

__all__ = ["ADAPTERS", "Adapter", "Detail", "DiscuzAdapter", "HtmlAdapter", "Listing", "NewsAdapter", "ParseError", "RssAdapter", "TiebaAdapter", "adapter_for"]


class RssAdapter(Adapter):
    """RSS/Atom 订阅：每个条目就是一条内容；只有标题的条目再抓取原文 (feed entries; title-only ones fetch the article)."""

    reads_body = True

    def parse_list(self, result: FetchResult, source: SourceSpec) -> Listing:
        items = parse_feed(result, source.id)
        # Many government feeds carry titles only: the article page holds the text worth matching.
        return Listing(items=[i for i in items if i.text], links=[i.url for i in items if not i.text])


class HtmlAdapter(Adapter):
    """网页列表：link_selector 选出文章链接，自动提取标题、正文、作者和时间 (list page + articles)."""

    def parse_list(self, result: FetchResult, source: SourceSpec) -> Listing:
        if not source.link_selector:
            raise ParseError("html 类型需要 link_selector (link_selector missing)")
        links = extract_links(result, source.link_selector)
        if not links:  # a redesigned list page: say so instead of patrolling nothing in silence
            raise ParseError(f"link_selector {source.link_selector!r} 没有选中任何链接 (matched no links)")
        return Listing(links=links)


class NewsAdapter(Adapter):
    """新闻网站：自动识别列表页里的文章链接（也可用 link_selector 指定），自动提取正文 (news site, no selectors)."""

    def parse_list(self, result: FetchResult, source: SourceSpec) -> Listing:
        return Listing(links=news_links(result, source))


ADAPTERS: Mapping[str, Adapter] = MappingProxyType(
    {"rss": RssAdapter(), "html": HtmlAdapter(), "news": NewsAdapter(),
     "discuz": DiscuzAdapter(), "tieba": TiebaAdapter()})


def adapter_for(source_type: str) -> Adapter:
    """The adapter for a ``type`` from ``sources.yaml``; ``LookupError`` names the ones that exist."""
    try:
        return ADAPTERS[source_type]
    except KeyError:
        raise LookupError(
            f"来源类型 {source_type!r} 还没有适配器 (no adapter for this source type); 可用 available: "
            + ", ".join(sorted(ADAPTERS))
        ) from None
