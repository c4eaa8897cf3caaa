"""A hostile HTTP server on loopback: every way a site can hurt a crawler, one path each."""

from __future__ import annotations

import asyncio
import gzip
import io
import os
from dataclasses import dataclass
from functools import cache
from typing import ClassVar

from aiohttp import web

# Two different stories (a repost would fold into the first one's incident and raise no alert).
GBK_ARTICLE = ("<html><head><title>家长反映</title></head><body><div class='article'><h1>家长反映幼儿呕吐</h1>"
               "<p>有家长反映，化隆二幼多名幼儿午餐后出现呕吐症状，已送医观察，园方称正在配合调查。</p>"
               "</div></body></html>")
UTF8_ARTICLE = "<html><body><h1>化隆二幼多名幼儿呕吐</h1><p>化隆二幼多名幼儿呕吐</p></body></html>"


@cache
def bomb() -> bytes:
    """64 MB of zeros gzipped to ~64 KB (the sources under test cap bodies at 1 MB)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=6) as f:
        for _ in range(64):
            f.write(bytes(1 << 20))
    return buffer.getvalue()


@dataclass
class Hostile:
    """``paths`` names what each path does; ``start(host)`` binds it to one loopback address."""

    host: str = "127.0.0.2"
    port: int = 0
    runner: web.AppRunner | None = None

    PATHS: ClassVar[dict[str, str]] = {
        "slowloris": "answers one byte every half second, forever",
        "endless": "a body that never ends, as fast as it can",
        "bomb": "a gzip bomb: 64 MB of zeros in ~64 KB",
        "liar": "Content-Length says 100,000 bytes, 20 come, then the connection closes",
        "huge": "declares a 2 GB body",
        "loop": "redirects to itself",
        "metadata": "redirects to the cloud metadata service 169.254.169.254",
        "intranet": "redirects to 10.0.0.1",
        "charsets": "a list page linking the next two",
        "gbk-as-utf8": "declares UTF-8, sends GBK (a matching article)",
        "utf8-as-gbk": "declares GBK, sends UTF-8 (a matching article)",
        "broken.rss": "an RSS feed cut off in the middle of an item",
        "nested": "10,000 nested tags",
        "binary": "random bytes as text/html",
        "reset": "resets the connection",
        "throttle": "429 with Retry-After: 3600",
        "storm": "503 on every request",
    }

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}/{path}"

    async def start(self) -> Hostile:
        app = web.Application()
        for path in self.PATHS:
            app.router.add_get(f"/{path}", getattr(self, "_" + path.replace("-", "_").replace(".", "_")))
        app.router.add_get("/robots.txt", self._no_robots)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, 0)
        await site.start()
        self.port = self.runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()

    async def _no_robots(self, request: web.Request) -> web.Response:
        return web.Response(status=404)

    async def _slowloris(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
        await response.prepare(request)
        for _ in range(10_000):
            await response.write(b"<")
            await asyncio.sleep(0.5)
        return response

    async def _endless(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
        await response.prepare(request)
        chunk = b"<p>\xe5\x8c\x96</p>" * 4096
        for _ in range(1_000_000):
            await response.write(chunk)
        return response

    async def _bomb(self, request: web.Request) -> web.Response:
        return web.Response(body=bomb(), headers={"Content-Type": "text/html", "Content-Encoding": "gzip"})

    async def _liar(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html", "Content-Length": "100000"})
        await response.prepare(request)
        await response.write(b"<html><body>truncated")
        assert request.transport is not None
        request.transport.close()
        return response

    async def _huge(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html", "Content-Length": str(2 << 30)})
        await response.prepare(request)
        for _ in range(1_000_000):
            await response.write(b"x" * 65536)
        return response

    async def _loop(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def _metadata(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")

    async def _intranet(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("http://10.0.0.1/admin")

    async def _charsets(self, request: web.Request) -> web.Response:
        return web.Response(text='<ul><li><a href="/gbk-as-utf8">甲</a></li><li><a href="/utf8-as-gbk">乙</a></li></ul>',
                            content_type="text/html")

    async def _gbk_as_utf8(self, request: web.Request) -> web.Response:
        return web.Response(body=GBK_ARTICLE.encode("gbk"),
                            headers={"Content-Type": "text/html; charset=utf-8"})

    async def _utf8_as_gbk(self, request: web.Request) -> web.Response:
        return web.Response(body=UTF8_ARTICLE.encode("utf-8"),
                            headers={"Content-Type": "text/html; charset=gbk"})

    async def _broken_rss(self, request: web.Request) -> web.Response:
        return web.Response(text=f"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>
<title>论坛</title><item><title>第一条</title><link>http://{request.host}/nested</link><description>县城天气晴""",
                            content_type="application/rss+xml")

    async def _nested(self, request: web.Request) -> web.Response:
        return web.Response(text="<html><body>" + "<div>" * 10_000 + "深处" + "</div>" * 10_000 + "</body></html>",
                            content_type="text/html")

    async def _binary(self, request: web.Request) -> web.Response:
        return web.Response(body=os.urandom(256 * 1024), headers={"Content-Type": "text/html"})

    async def _reset(self, request: web.Request) -> web.Response:
        assert request.transport is not None
        request.transport.abort()
        return web.Response(text="never sent")

    async def _throttle(self, request: web.Request) -> web.Response:
        return web.Response(status=429, headers={"Retry-After": "3600"}, text="slow down")

    async def _storm(self, request: web.Request) -> web.Response:
        return web.Response(status=503, text="overloaded")

