"""Canonical URLs: one spelling per page, because the URL is an item's identity in dedup."""

from __future__ import annotations

import pytest

from crawler.canonical import canonical_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://News.Example.CN/a.html", "http://news.example.cn/a.html"),
        ("http://example.cn:80/a", "http://example.cn/a"),
        ("https://example.cn:443/a", "https://example.cn/a"),
        ("https://example.cn:8443/a", "https://example.cn:8443/a"),
        ("http://example.cn", "http://example.cn/"),
        ("http://example.cn?", "http://example.cn/"),
        ("http://example.cn/a?", "http://example.cn/a"),
        ("http://example.cn/a#comments", "http://example.cn/a"),
        ("http://example.cn/a?id=3#top", "http://example.cn/a?id=3"),
        ("http://example.cn./a", "http://example.cn/a"),
        ("  http://example.cn/a \n", "http://example.cn/a"),
        ("http://[::1]:8080", "http://[::1]:8080/"),
        ("http://user:pw@Example.cn:80/a", "http://user:pw@example.cn/a"),
    ],
)
def test_scheme_host_port_fragment(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://e.cn/a?utm_source=wx&utm_medium=share&id=7", "http://e.cn/a?id=7"),
        ("http://e.cn/a?UTM_Campaign=x&id=7", "http://e.cn/a?id=7"),
        ("http://e.cn/a?spm=c.1.2&id=7&from=timeline", "http://e.cn/a?id=7"),
        ("http://e.cn/a?share_token=abc&fbclid=1&gclid=2&scm=3", "http://e.cn/a"),
        # Others stay, in order, spelled as they were (blank values and escapes included).
        ("http://e.cn/a?b=2&a=1&c=&d=%E5%8C%96", "http://e.cn/a?b=2&a=1&c=&d=%E5%8C%96"),
        ("http://e.cn/a?id=1&&page=2", "http://e.cn/a?id=1&page=2"),
        ("http://e.cn/a?fromage=1&spmx=2", "http://e.cn/a?fromage=1&spmx=2"),  # whole names only
    ],
)
def test_tracking_parameters(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        ("2024/0305/12.html", "http://e.cn/news/index.html", "http://e.cn/news/2024/0305/12.html"),
        ("../a.html", "http://e.cn/news/list/", "http://e.cn/news/a.html"),
        ("/a.html?from=list", "https://E.cn:443/news/", "https://e.cn/a.html"),
        ("//cdn.e.cn/x", "https://e.cn/", "https://cdn.e.cn/x"),
        ("?page=2", "http://e.cn/list.html?page=1", "http://e.cn/list.html?page=2"),
        ("http://other.cn/x", "http://e.cn/", "http://other.cn/x"),
        ("", "http://e.cn/list.html#top", "http://e.cn/list.html"),
    ],
)
def test_relative_to_base(url: str, base: str, expected: str) -> None:
    assert canonical_url(url, base) == expected


def test_non_ascii_is_escaped_like_a_browser_so_both_spellings_meet() -> None:
    raw = canonical_url("http://e.cn/新闻/化隆 二幼.html?q=化隆")
    escaped = canonical_url("http://e.cn/%E6%96%B0%E9%97%BB/%E5%8C%96%E9%9A%86%20%E4%BA%8C%E5%B9%BC.html?q=%E5%8C%96%E9%9A%86")
    assert raw == escaped
    assert raw.isascii()


def test_idempotent() -> None:
    for url in ("HTTP://E.cn:80/a/b?utm_x=1&id=2#f", "http://e.cn", "https://e.cn/新闻?x=&y=1"):
        once = canonical_url(url)
        assert canonical_url(once) == once


def test_other_schemes_are_left_alone_for_the_caller_to_reject() -> None:
    assert canonical_url("javascript:void(0)", "http://e.cn/") == "javascript:void(0)"
    assert canonical_url("mailto:a@e.cn") == "mailto:a@e.cn"


def test_unparseable_url_raises_value_error() -> None:
    with pytest.raises(ValueError):
        canonical_url("http://e.cn:notaport/")
    with pytest.raises(ValueError):
        canonical_url("http://[::1/")
