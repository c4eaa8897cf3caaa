"""The adapter interface every source type implements (kept apart so adapter modules can
subclass it without importing the registry)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crawler.adapters.errors import ParseError
from crawler.adapters.html import extract_article
from crawler.types import FetchResult, Item

if TYPE_CHECKING:
    from crawler.config.sources import SourceSpec


@dataclass
class Listing:
    """What one list page gave: finished items, and article links still to fetch (page order).

    ``versions`` marks the links that are forum threads, with what the list shows of each one's
    state (its reply count; None when the list does not show it): a thread is fetched again when
    that changes (always, when it is None). Other links are fetched once."""

    items: list[Item] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    versions: dict[str, str | None] = field(default_factory=dict)


@dataclass
class Detail:
    """What one detail page gave: items, and further pages to fetch: the thread's later pages
    (``pages``, in order) and others that belong to it (``more``: 楼中楼 pages), fetched after
    them. ``page`` is the number of this page in its thread (None for pages that are not one of a
    thread's pages): a thread is read on from its last page read when it changes."""

    items: list[Item] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)
    more: list[str] = field(default_factory=list)
    page: int | None = None


class Adapter(ABC):
    """Base: one list page per source ``url``; article pages read by the automatic extractor."""

    # Whether parsing needs the raw bytes as well as the decoded text (a feed parser reading the
    # XML declaration does): without, a page goes to a parse worker at half the size.
    reads_body = False

    def start_urls(self, source: SourceSpec) -> list[str]:
        return [source.url] if source.url else []

    @abstractmethod
    def parse_list(self, result: FetchResult, source: SourceSpec) -> Listing:
        """Items and article links from a page of ``start_urls``."""

    def read_detail(self, result: FetchResult, source: SourceSpec) -> Detail:
        """Items and further pages of a detail page; articles have no further pages."""
        return Detail(items=self.parse_detail(result, source))

    def parse_detail(self, result: FetchResult, source: SourceSpec) -> list[Item]:
        """The article on a detail page; an empty one is an error, so a broken selector shows."""
        item = extract_article(result, source.id, title_selector=source.title_selector,
                               text_selector=source.text_selector)
        if not item.text and source.text_selector:
            raise ParseError(f"text_selector {source.text_selector!r} 没有选中正文 (matched no text)")
        if not item.text and not item.title:
            raise ParseError("页面中没有找到标题或正文 (no title or text found)")
        return [item]
