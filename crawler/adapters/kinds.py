"""Source kinds: what ``type:`` in sources.yaml means as a crawl plan.

Every kind is a two-level crawl: its start pages are parsed into finished items and/or links;
the pipeline fetches links it has not seen and parses each into items. A kind is a small class
whose one-line docstring is its help text; the parsing itself lives in the per-format modules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser

from crawler.adapters.errors import ParseError
from crawler.adapters.html import extract_article, extract_links
from crawler.adapters.rss import parse_feed
from crawler.canonical import canonical_url
from crawler.config.sources import SourceSpec
from crawler.types import FetchResult, Item


@dataclass(frozen=True)
class Listing:
    """What a start page gave: items complete in themselves (feed entries) and links to follow."""

    items: list[Item] = field(default_factory=list)
    links: list[str] = field(default_factory=list)


class Adapter(Protocol):
    def start_urls(self, source: SourceSpec) -> list[str]: ...

    def parse_list(self, result: FetchResult, source: SourceSpec) -> Listing: ...

    def parse_detail(self, result: FetchResult, source: SourceSpec) -> list[Item]: ...


class RssAdapter:
    """RSS 2.0 / Atom 订阅：每个条目即一条内容，不再抓取文章页。"""

    def start_urls(self, source: SourceSpec) -> list[str]:
        return [source.url] if source.url else []

    def parse_list(self, result: FetchResult, source: SourceSpec) -> Listing:
        return Listing(items=parse_feed(result, source.id))

    def parse_detail(self, result: FetchResult, source: SourceSpec) -> list[Item]:
        return []


class HtmlAdapter:
    """网页列表：link_selector（CSS）选出文章链接，逐篇提取标题和正文。"""

    def start_urls(self, source: SourceSpec) -> list[str]:
        return [source.url] if source.url else []

    def links(self, result: FetchResult, source: SourceSpec) -> list[str]:
        return extract_links(result, source.link_selector or "a")

    def parse_list(self, result: FetchResult, source: SourceSpec) -> Listing:
        return Listing(links=self.links(result, source))

    def parse_detail(self, result: FetchResult, source: SourceSpec) -> list[Item]:
        item = extract_article(result, source.id, title_selector=source.title_selector,
                               text_selector=source.text_selector)
        return [item] if item.title or item.text else []


# An article URL on a Chinese news site: a date or a long number in the path, or an id parameter.
_ARTICLE_URL = re.compile(r"(/20\d{2}[-/]?\d{2}|/\d{2}/\d{2}/|\d{5,}|[?&](id|aid|articleid|newsid)=\d+|/t20\d{6}_)", re.I)
_MIN_ANCHOR_CHARS = 6


class NewsAdapter(HtmlAdapter):
    """新闻网站：自动识别列表页中的文章链接（同站、标题较长、文章式网址），也可用 link_selector 指定。"""

    def links(self, result: FetchResult, source: SourceSpec) -> list[str]:
        if source.link_selector:
            return extract_links(result, source.link_selector)
        return guess_article_links(result)


def guess_article_links(result: FetchResult) -> list[str]:
    """Links that look like articles: same site, a headline-length anchor, an article-like URL."""
    host = urlsplit(result.final_url).hostname or ""
    site = ".".join(host.split(".")[-2:])
    out: list[str] = []
    for node in LexborHTMLParser(result.text).css("a[href]"):
        href = node.attributes.get("href") or ""
        anchor = node.text(strip=True)
        if len(anchor) < _MIN_ANCHOR_CHARS or href.startswith(("javascript:", "mailto:", "#")):
            continue
        url = canonical_url(href, result.final_url)
        target = urlsplit(url)
        if target.scheme not in ("http", "https") or not (target.hostname or "").endswith(site):
            continue
        if _ARTICLE_URL.search(target.path + ("?" + target.query if target.query else "")) and url not in out:
            out.append(url)
    return out


class NotYetAdapter:
    """Kinds accepted in sources.yaml whose adapter is not written yet: the run fails with a clear reason."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def start_urls(self, source: SourceSpec) -> list[str]:
        raise ParseError(f"类型 {self.kind} 的适配器尚未实现 (adapter for '{self.kind}' is not available yet)")

    def parse_list(self, result: FetchResult, source: SourceSpec) -> Listing:
        return Listing()

    def parse_detail(self, result: FetchResult, source: SourceSpec) -> list[Item]:
        return []


ADAPTERS: dict[str, Adapter] = {"rss": RssAdapter(), "html": HtmlAdapter(), "news": NewsAdapter()}
def adapter_for(kind: str) -> Adapter:
    return ADAPTERS.get(kind) or NotYetAdapter(kind)
