"""RobotsCache with a stand-in loader: user-agent groups, caching, TTL, missing files."""

from __future__ import annotations

import asyncio

from yarl import URL

from crawler.fetch.robots import RobotsCache
from crawler.types import FetchPolicy

ROBOTS = "User-agent: *\nDisallow: /private\n\nUser-agent: yuqing\nDisallow: /secret\n"


class Loader:
    """Counts loads and answers with a fixed robots.txt text (None: no file)."""

    def __init__(self, text: str | None) -> None:
        self.text = text
        self.urls: list[str] = []

    async def __call__(self, url: str, policy: FetchPolicy) -> str | None:
        self.urls.append(url)
        await asyncio.sleep(0.01)
        return self.text


async def test_rules_of_our_user_agent_group_apply() -> None:
    cache = RobotsCache(Loader(ROBOTS))
    ours = FetchPolicy()  # the default user agent starts with "yuqing/"
    assert not await cache.allowed(URL("http://news.example.cn/secret/1"), ours)
    assert await cache.allowed(URL("http://news.example.cn/private/1"), ours)
    other = FetchPolicy(user_agent="SomeBot/1.0")
    assert await cache.allowed(URL("http://news.example.cn/secret/1"), other)
    assert not await cache.allowed(URL("http://news.example.cn/private/1"), other)


async def test_loaded_once_per_origin_even_when_asked_concurrently() -> None:
    loader = Loader(ROBOTS)
    cache = RobotsCache(loader)
    urls = [URL(f"http://a.example.cn/page/{n}") for n in range(5)] + [URL("https://a.example.cn/x")]
    await asyncio.gather(*(cache.allowed(url, FetchPolicy()) for url in urls))
    assert loader.urls == ["http://a.example.cn/robots.txt", "https://a.example.cn/robots.txt"]


async def test_reloaded_after_ttl() -> None:
    loader = Loader(ROBOTS)
    cache = RobotsCache(loader, ttl_s=0.0)
    for _ in range(2):
        await cache.allowed(URL("http://a.example.cn/"), FetchPolicy())
        await asyncio.sleep(0.001)
    assert len(loader.urls) == 2


async def test_no_robots_txt_allows_everything() -> None:
    cache = RobotsCache(Loader(None))
    assert await cache.allowed(URL("http://a.example.cn/private/1"), FetchPolicy())
