"""RSS 2.0 / Atom feeds: each entry is an item, title, text and date included.

feedparser does the format and encoding work. Two things it gets wrong for Chinese feeds are
handled here: dates without an offset (it reads them as UTC; Chinese sites mean Beijing time, and
it misreads ``2024年03月05日``), and blank lines before the XML declaration (common from PHP
templates; feedparser then ignores the declared encoding and mangles the text).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import feedparser  # type: ignore[import-untyped]  # no stubs published

from crawler.adapters.errors import ParseError
from crawler.adapters.html import html_to_text, parse_time
from crawler.canonical import canonical_url
from crawler.types import FetchResult, Item


# Complaints about the response rather than the feed: a wrong Content-Type or charset label.
_HARMLESS = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


def _published(entry: feedparser.FeedParserDict) -> datetime | None:
    """The entry's publication (else update) time, aware UTC."""
    for key in ("published", "updated"):
        # dict.get: FeedParserDict maps a missing "updated" to "published" with a DeprecationWarning.
        raw = dict.get(entry, key)
        if raw and (parsed := parse_time(raw)):  # numeric dates, naive = Beijing time
            return parsed
        struct: time.struct_time | None = dict.get(entry, f"{key}_parsed")
        if raw and struct:  # RFC 822 ("Tue, 05 Mar 2024 14:02:00 +0800"): feedparser gives UTC
            return datetime(*struct[:6], tzinfo=timezone.utc)
    return None


def _plain(value: str, content_type: str | None) -> str:
    """Feed text fields are HTML or plain text (feedparser says which); both end as plain text.
    Plain text is not run through the HTML parser, where ``a<b`` would lose ``<b``."""
    if content_type in ("text/html", "application/xhtml+xml"):
        return html_to_text(value)
    return "\n".join(line for line in (" ".join(part.split()) for part in value.splitlines()) if line)


def _title(entry: feedparser.FeedParserDict) -> str:
    detail = entry.get("title_detail") or {}
    return " ".join(_plain(detail.get("value", ""), detail.get("type")).split())


def _text(entry: feedparser.FeedParserDict) -> str:
    """The fuller of content and summary (feeds often put a teaser in one and the article in the other)."""
    summary = entry.get("summary_detail") or {}
    bodies = [(c.get("value", ""), c.get("type")) for c in entry.get("content", [])]
    bodies.append((summary.get("value", ""), summary.get("type")))
    return _plain(*max(bodies, key=lambda body: len(body[0])))


def parse_feed(result: FetchResult, source_id: str) -> list[Item]:
    """The entries of a feed as items, in feed order; entries without a usable link are skipped.

    A broken feed that still yields entries is accepted (feeds are often slightly malformed);
    raises ``ParseError`` when nothing feed-like is there, e.g. an HTML error page.
    """
    content_type = next((v for k, v in result.headers if k.lower() == "content-type"), None)
    headers = {"content-location": result.final_url}
    if content_type:
        headers["content-type"] = content_type
    feed = feedparser.parse(result.body.lstrip(), response_headers=headers)
    problem = feed.get("bozo_exception")
    broken = feed.get("bozo") and not isinstance(problem, _HARMLESS)
    if not feed.get("entries") and (broken or not feed.get("version")):
        raise ParseError(f"不是有效的 RSS/Atom 订阅 (not a feed): {problem or 'no RSS/Atom root element'}")
    items: list[Item] = []
    seen: set[str] = set()  # a feed listing one link twice is still one item
    for entry in feed.entries:
        link = entry.get("link")
        try:
            url = canonical_url(link, result.final_url) if link else ""
        except ValueError:
            continue
        if not url.startswith(("http://", "https://")) or url in seen:
            continue
        seen.add(url)
        items.append(Item(url=url, source_id=source_id, title=_title(entry), text=_text(entry),
                          fetched_at=result.fetched_at, author=entry.get("author") or None,
                          published_at=_published(entry)))
    return items
