"""``type: news``: a news site's list page without per-site selectors.

Article links are recognised by shape: same site, a headline-length anchor, and a URL that looks
like an article (a date or a long number in the path, or an id parameter) — the pattern of
nearly every Chinese news CMS. ``link_selector`` still overrides when a site needs it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser

from crawler.adapters.errors import ParseError
from crawler.adapters.html import extract_links
from crawler.canonical import canonical_url
from crawler.types import FetchResult

if TYPE_CHECKING:
    from crawler.config.sources import SourceSpec

_ARTICLE_URL = re.compile(r"(/20\d{2}[-/]?\d{2}|/\d{2}/\d{2}/|\d{5,}|[?&](id|aid|articleid|newsid)=\d+|/t20\d{6}_)", re.I)
MIN_ANCHOR_CHARS = 6


def _site(host: str) -> str:
    """``news.hualong.gov.cn`` → ``hualong.gov.cn``: links to sibling subdomains count as the same site."""
    parts = host.split(".")
    keep = 3 if len(parts) >= 3 and parts[-2] in {"gov", "com", "edu", "org", "net"} and parts[-1] == "cn" else 2
    return ".".join(parts[-keep:])


def guess_article_links(result: FetchResult) -> list[str]:
    """Links that look like articles, in page order, without duplicates."""
    site = _site(urlsplit(result.final_url).hostname or "")
    out: list[str] = []
    for node in LexborHTMLParser(result.text).css("a[href]"):
        href = (node.attributes.get("href") or "").strip()
        if len(node.text(strip=True)) < MIN_ANCHOR_CHARS or href.startswith(("javascript:", "mailto:", "#")):
            continue
        try:
            url = canonical_url(href, result.final_url)
        except ValueError:  # a malformed href (bad port, broken IPv6): not a link worth following
            continue
        target = urlsplit(url)
        if target.scheme not in ("http", "https") or not (target.hostname or "").endswith(site):
            continue
        path = target.path + (f"?{target.query}" if target.query else "")
        if _ARTICLE_URL.search(path) and url not in out:
            out.append(url)
    return out


def news_links(result: FetchResult, source: SourceSpec) -> list[str]:
    links = extract_links(result, source.link_selector) if source.link_selector else guess_article_links(result)
    if not links:
        raise ParseError("列表页中没有识别出文章链接，可用 link_selector 指定 (no article links found)")
    return links
