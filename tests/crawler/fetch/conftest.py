"""Fixtures: a real aiohttp web server on 127.0.0.1 (random port, one route per behaviour under test),
a Fetcher, and a fast policy."""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from crawler.fetch import Fetcher
from crawler.types import FetchPolicy

GBK_DIR = Path(__file__).resolve().parents[2] / "data" / "gbk"
PLAIN_HTML = "<html><head><title>你好</title></head><body>舆情 monitoring</body></html>"
GZIP_TEXT = "<html><body>" + "压缩的网页 compressed page. " * 200 + "</body></html>"
ROBOTS_TXT = "User-agent: *\nDisallow: /private\n"
STREAM_TOTAL_BYTES = 50 * 1024 * 1024
BOMB_BYTES = 32 * 1024 * 1024


@dataclass
class ServerState:
    """What the server saw; tests read it and may switch ``robots_status``."""

    hits: Counter[str] = field(default_factory=Counter)
    request_headers: dict[str, dict[str, str]] = field(default_factory=dict)
    starts: list[float] = field(default_factory=list)
    active: int = 0
    max_active: int = 0
    streamed_bytes: int = 0
    robots_status: int = 200


@dataclass
class LocalServer:
    """The running site: its address, what it saw, and the texts tests compare against."""

    PLAIN_HTML: ClassVar[str] = PLAIN_HTML
    GZIP_TEXT: ClassVar[str] = GZIP_TEXT
    STREAM_TOTAL_BYTES: ClassVar[int] = STREAM_TOTAL_BYTES

    base: str
    port: int
    state: ServerState

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


def _routes(state: ServerState, gbk_raw: bytes, bomb: bytes) -> web.RouteTableDef:
    routes = web.RouteTableDef()

    @routes.get("/plain")
    async def plain(request: web.Request) -> web.Response:
        return web.Response(text=PLAIN_HTML, content_type="text/html", charset="utf-8")

    @routes.get("/compressed/{coding}")
    async def compressed(request: web.Request) -> web.Response:
        coding = request.match_info["coding"]
        raw = GZIP_TEXT.encode("utf-8")
        body = gzip.compress(raw) if coding == "gzip" else zlib.compress(raw)
        return web.Response(body=body, headers={"Content-Type": "text/html; charset=utf-8", "Content-Encoding": coding})

    @routes.get("/gbk")
    async def gbk(request: web.Request) -> web.Response:
        return web.Response(body=gbk_raw, headers={"Content-Type": "text/html"})

    @routes.get("/liar")
    async def liar(request: web.Request) -> web.Response:
        return web.Response(body=gbk_raw, headers={"Content-Type": "text/html; charset=utf-8"})

    @routes.get("/robots.txt")
    async def robots(request: web.Request) -> web.Response:
        if state.robots_status != 200:
            return web.Response(status=state.robots_status, text="no robots here")
        return web.Response(text=ROBOTS_TXT)

    @routes.get("/private")
    async def private(request: web.Request) -> web.Response:
        return web.Response(text="members only")

    @routes.get("/etag")
    async def etag(request: web.Request) -> web.Response:
        validators = {"ETag": '"v1"', "Last-Modified": "Wed, 01 Jan 2025 00:00:00 GMT"}
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304, headers=validators)
        return web.Response(text="version 1", headers=validators)

    @routes.get("/flaky")
    async def flaky(request: web.Request) -> web.Response:
        if state.hits["/flaky"] == 1:
            return web.Response(status=500, text="oops")
        return web.Response(text="recovered")

    @routes.get("/always500")
    async def always500(request: web.Request) -> web.Response:
        return web.Response(status=500, text="down")

    @routes.get("/ratelimited")
    async def ratelimited(request: web.Request) -> web.Response:
        if state.hits["/ratelimited"] == 1:
            return web.Response(status=429, headers={"Retry-After": "1"})
        return web.Response(text="welcome back")

    @routes.get("/ratelimited-long")
    async def ratelimited_long(request: web.Request) -> web.Response:
        return web.Response(status=429, headers={"Retry-After": "120"})

    @routes.get("/status/{code}")
    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="status")

    @routes.get("/loop")
    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    @routes.get("/redirect")
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    @routes.get("/big")
    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (2 * 1024 * 1024), content_type="text/plain")

    @routes.get("/stream")
    async def stream(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        chunk = b"y" * 65536
        try:
            while state.streamed_bytes < STREAM_TOTAL_BYTES:
                await resp.write(chunk)
                state.streamed_bytes += len(chunk)
        except ConnectionError:
            pass  # the client hung up, as it should
        return resp

    @routes.get("/bomb")
    async def gzip_bomb(request: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Type": "text/html", "Content-Encoding": "gzip"})

    @routes.get("/slow")
    async def slow(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        await resp.write(b"first bytes...")
        await asyncio.sleep(1.0)
        await resp.write(b"too late")
        return resp

    @routes.get("/stamp")
    async def stamp(request: web.Request) -> web.Response:
        state.starts.append(time.monotonic())
        return web.Response(text="stamped")

    @routes.get("/hold")
    async def hold(request: web.Request) -> web.Response:
        state.active += 1
        state.max_active = max(state.max_active, state.active)
        try:
            await asyncio.sleep(0.15)
        finally:
            state.active -= 1
        return web.Response(text="held")

    return routes


@pytest.fixture(scope="session")
def gbk_raw() -> bytes:
    return (GBK_DIR / "fujiz_163_news_gbk_raw.html").read_bytes()


@pytest.fixture(scope="session")
def utf8_twin() -> str:
    return (GBK_DIR / "fujiz_163_news_same_page_utf8.html").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def bomb() -> bytes:
    """About 32 KB of gzip that inflates to 32 MB of zeros."""
    return gzip.compress(b"\0" * BOMB_BYTES, compresslevel=9)


@pytest.fixture
async def server(gbk_raw: bytes, bomb: bytes) -> AsyncIterator[LocalServer]:
    state = ServerState()

    @web.middleware
    async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
        state.hits[request.path] += 1
        state.request_headers[request.path] = dict(request.headers)
        return await handler(request)

    app = web.Application(middlewares=[count])
    app.add_routes(_routes(state, gbk_raw, bomb))
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = int(runner.addresses[0][1])
    yield LocalServer(base=f"http://127.0.0.1:{port}", port=port, state=state)
    await runner.cleanup()


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher() as instance:
        yield instance


@pytest.fixture
def policy() -> FetchPolicy:
    """Fast settings for loopback: private networks allowed (the server is on 127.0.0.1), no delay."""
    return FetchPolicy(
        allow_private_networks=True,
        obey_robots=False,
        delay_s=0.0,
        retries=0,
        backoff_s=0.01,
        connect_timeout_s=1.0,
        read_timeout_s=1.0,
        total_timeout_s=5.0,
    )
