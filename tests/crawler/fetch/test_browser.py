"""Headless Chromium: pages written by scripts, every request through the Fetcher's guard, limits,
and full-page screenshots with Chinese glyphs. One browser for the whole module (launching one
costs about 1.5 s)."""

from __future__ import annotations

import asyncio
import logging
import struct
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web

from crawler.fetch import Fetcher
from crawler.fetch.browser import Browser, BrowserSettings, browser_problem
from crawler.types import FetchError, FetchPolicy

pytestmark = pytest.mark.asyncio(loop_scope="module")

SAMPLES = Path(__file__).resolve().parents[3] / "test-output" / "browser"
SCRIPTED = """<!doctype html><html><head><meta charset="gbk"><title>脚本页</title>
<script src="/app.js"></script></head><body><div id="main">加载中</div></body></html>"""
APP_JS = """document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('main').innerHTML = '<h1>脚本写入的标题</h1><p>化隆二幼多名幼儿呕吐</p>';
  fetch('/api/more').then(r => r.text()).then(t => document.body.insertAdjacentHTML('beforeend', '<p id="more">' + t + '</p>'));
  setTimeout(() => fetch('/api/late').then(r => r.text()).then(t => document.body.insertAdjacentHTML('beforeend', t)), 150);
});"""


@dataclass
class Seen:
    """Every request the loopback server received: (method, path, headers)."""

    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    active: int = 0
    max_active: int = 0

    def paths(self) -> list[str]:
        return [path for _, path, _ in self.requests]


@dataclass
class Server:
    base: str
    port: int
    seen: Seen
    pages: dict[str, tuple[bytes, str]]

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8") -> None:
        self.pages[path] = (body.encode("utf-8") if isinstance(body, str) else body, content_type)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server() -> AsyncIterator[Server]:
    seen = Seen()
    pages: dict[str, tuple[bytes, str]] = {}

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.requests.append((request.method, request.path_qs, dict(request.headers)))
        if request.path == "/hold":
            seen.active += 1
            seen.max_active = max(seen.max_active, seen.active)
            try:
                await asyncio.sleep(1.0)  # long enough for the next page to be loading meanwhile
            finally:
                seen.active -= 1
            return web.Response(text="1;", content_type="application/javascript")
        if request.path == "/ws":
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            await ws.close()
            return ws
        page = pages.get(request.path)
        if page is None:
            return web.Response(status=404, text="not found")
        return web.Response(body=page[0], headers={"Content-Type": page[1]})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = int(runner.addresses[0][1])
    site = Server(f"http://127.0.0.1:{port}", port, seen, pages)
    site.add("/scripted.html", SCRIPTED.encode("gbk"), "text/html")  # charset only in <meta>
    site.add("/app.js", APP_JS, "application/javascript; charset=utf-8")
    site.add("/api/more", "接口返回的补充内容", "text/plain; charset=utf-8")
    site.add("/api/late", "<p>稍后加载的评论</p>", "text/plain; charset=utf-8")
    yield site
    await runner.cleanup()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with Fetcher() as fetcher:
        instance = Browser(fetcher, BrowserSettings(pages=2, timeout_s=15))
        yield instance
        await instance.close()


@pytest.fixture
def policy() -> FetchPolicy:
    """Loopback settings: private networks allowed (the site is on 127.0.0.1), no delay, no retry."""
    return FetchPolicy(allow_private_networks=True, obey_robots=False, delay_s=0.0, retries=0,
                       connect_timeout_s=2.0, read_timeout_s=2.0, total_timeout_s=5.0)


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


async def test_render_returns_the_dom_scripts_wrote(server: Server, browser: Browser, policy: FetchPolicy) -> None:
    result = await browser.render(server.url("/scripted.html"), policy)
    assert "<h1>脚本写入的标题</h1>" in result.text and "接口返回的补充内容" in result.text
    assert "稍后加载的评论" in result.text  # fetched by a timer after "load": waited for
    assert "加载中" not in result.text
    assert result.body == result.text.encode("utf-8") and result.encoding == "utf-8"
    assert ("Content-Type", "text/html; charset=utf-8") in result.headers
    assert ("X-Yuqing-Rendered", "headless-chromium") in result.headers
    assert result.status == 200 and result.final_url == server.url("/scripted.html") and result.elapsed_ms > 0
    plain = await browser.fetcher.fetch(server.url("/scripted.html"), policy)
    assert "脚本写入" not in plain.text  # what the aiohttp fetcher alone sees


async def test_every_request_carries_our_user_agent_and_the_cookie_only_to_the_page_host(
        server: Server, browser: Browser, policy: FetchPolicy) -> None:
    other = f"http://localhost:{server.port}"  # another host name for the same loopback server
    server.add("/cookie.html", f"""<html><head><script src="/own.js?c"></script>
<script src="{other}/third.js?c"></script></head><body>正文
<script>document.cookie = 'js=1'; fetch('/after.txt?c');</script></body></html>""")
    server.add("/after.txt", "ok", "text/plain")
    server.add("/own.js", "1;", "application/javascript")
    server.add("/third.js", "1;", "application/javascript")
    policy = replace(policy, user_agent="yuqing-test/1 (舆情)", cookie="sid=secret")
    await browser.render(server.url("/cookie.html?c"), policy)
    by_path = {path: headers for _, path, headers in server.seen.requests if path.endswith("?c")}
    assert set(by_path) == {"/cookie.html?c", "/own.js?c", "/third.js?c", "/after.txt?c"}
    assert all(h["User-Agent"] == "yuqing-test/1 (舆情)" for h in by_path.values())
    assert by_path["/cookie.html?c"]["Cookie"] == "sid=secret" and by_path["/own.js?c"]["Cookie"] == "sid=secret"
    assert "Cookie" not in by_path["/third.js?c"]
    assert by_path["/after.txt?c"]["Cookie"] == "sid=secret"  # a cookie the page set never travels


async def test_guard_refuses_every_request_a_page_makes_to_private_addresses(
        server: Server, browser: Browser, policy: FetchPolicy, caplog: pytest.LogCaptureFixture) -> None:
    """A public page (served from evidence, so no network is needed for it) tries every way a page
    can reach the loopback server; with private networks not allowed, none arrives."""
    before = len(server.seen.requests)
    base, port = server.base, server.port
    hostile = f"""<html><head><link rel="stylesheet" href="{base}/x.css"><script src="{base}/x.js"></script>
<script src="http://localhost:{port}/y.js"></script></head><body><h1>公开页面</h1>
<img src="{base}/x.png"><img src="http://169.254.169.254/latest/meta-data"><iframe src="{base}/frame.html"></iframe>
<script>
fetch('{base}/api/x').catch(() => {{}});
var x = new XMLHttpRequest(); x.open('GET', 'http://[::1]:{port}/xhr'); x.send();
new WebSocket('ws://127.0.0.1:{port}/ws');
navigator.sendBeacon('{base}/beacon', 'data');
location.href = '{base}/navigate';
</script></body></html>"""
    closed = replace(policy, allow_private_networks=False)
    with caplog.at_level(logging.INFO, logger="yuqing.browser"):
        png = await browser.screenshot("http://public.example.cn/page.html", closed, html=hostile)
    await asyncio.sleep(0.3)
    assert png_size(png)[0] == 1280
    assert server.seen.requests[before:] == []
    refused = next(r.getMessage() for r in caplog.records if "browser refused" in r.getMessage())
    assert "内网" in refused and int(refused.split("requests=")[1].split()[0]) >= 7
    # The control: the same page where private networks are allowed does reach the server.
    await browser.screenshot("http://public.example.cn/page.html", policy, html=hostile)
    reached = {path for _, path, _ in server.seen.requests[before:]}
    assert {"/x.css", "/x.js", "/y.js", "/x.png", "/api/x", "/frame.html"} <= reached
    before = len(server.seen.requests)
    with pytest.raises(FetchError, match="内网"):
        await browser.render(server.url("/scripted.html"), closed)
    assert server.seen.requests[before:] == []


async def test_only_reads_never_posts(server: Server, browser: Browser, policy: FetchPolicy) -> None:
    server.add("/form.html", """<html><body><form id="f" method="post" action="/submit"><input name="a" value="1"></form>
<script>fetch('/submit-api', {method: 'POST', body: 'x'}); document.getElementById('f').submit();</script>
</body></html>""")
    await browser.render(server.url("/form.html"), policy)
    assert [m for m, path, _ in server.seen.requests if path.startswith("/submit")] == []
    assert all(m == "GET" for m, _, _ in server.seen.requests)


async def test_size_caps_on_resources_and_on_the_rendered_page(server: Server, browser: Browser,
                                                              policy: FetchPolicy) -> None:
    small = replace(policy, max_body_bytes=64 * 1024)
    server.add("/big.js", "var big = '" + "x" * 100_000 + "'; document.title = 'ran';", "application/javascript")
    server.add("/bigscript.html", "<html><head><title>small</title><script src='/big.js'></script></head><body>正文</body></html>")
    result = await browser.render(server.url("/bigscript.html"), small)
    assert "<title>small</title>" in result.text  # the oversized script was refused, never ran
    server.add("/grow.html", "<html><body><script>document.body.textContent = '长'.repeat(100000);</script></body></html>")
    with pytest.raises(FetchError, match="渲染后页面过大"):
        await browser.render(server.url("/grow.html"), small)


async def test_pages_at_once_are_limited(server: Server, browser: Browser, policy: FetchPolicy) -> None:
    server.seen.max_active = 0
    for i in range(3):
        server.add(f"/held{i}.html", f"<html><head><script src='/hold?{i}'></script></head><body>页{i}</body></html>")
    results = await asyncio.gather(*(browser.render(server.url(f"/held{i}.html"), policy) for i in range(3)))
    assert [f"页{i}" in r.text for i, r in enumerate(results)] == [True] * 3
    assert server.seen.max_active == 2  # settings.pages, although three renders were asked for at once


async def test_http_errors_come_back_as_from_the_fetcher(server: Server, browser: Browser,
                                                         policy: FetchPolicy) -> None:
    with pytest.raises(FetchError, match="HTTP 404"):
        await browser.render(server.url("/missing.html"), policy)


async def test_json_and_text_are_returned_as_fetched(server: Server, browser: Browser, policy: FetchPolicy) -> None:
    server.add("/data.json", '{"标题": "接口数据"}', "application/json; charset=utf-8")
    result = await browser.render(server.url("/data.json"), policy)
    assert result.text == '{"标题": "接口数据"}' and ("X-Yuqing-Rendered", "headless-chromium") not in result.headers


async def test_a_chinese_path_is_fetched_once(server: Server, browser: Browser, policy: FetchPolicy) -> None:
    """Chromium percent-encodes the path; the document it asks for is still the one already fetched."""
    server.add("/新闻/第1页.html", "<html><body><p>中文路径的页面</p></body></html>")
    result = await browser.render(server.url("/新闻/第1页.html"), policy)
    assert "中文路径的页面" in result.text
    assert server.seen.paths().count("/%E6%96%B0%E9%97%BB/%E7%AC%AC1%E9%A1%B5.html") == 1


async def test_screenshot_is_full_page_with_chinese_glyphs(server: Server, browser: Browser,
                                                           policy: FetchPolicy) -> None:
    page = """<html><head><style>body{margin:0;font-size:48px} .tall{height:2600px}</style></head><body>
<h1>化隆二幼多名幼儿午餐后呕吐 舆情监测</h1><p>中文字体应当显示为汉字，而不是方框。</p><div class="tall"></div><p>页尾</p></body></html>"""
    png = await browser.screenshot(server.url("/shot.html"), policy, html=page)
    width, height = png_size(png)
    assert width == 1280 and height > 2600  # the whole page, not the 900 px viewport
    SAMPLES.mkdir(parents=True, exist_ok=True)
    (SAMPLES / "chinese-full-page.png").write_bytes(png)
    # Missing glyphs all draw the same box: two different characters must give different pixels.
    one = "<html><body style='margin:0;font-size:200px'><span>{}</span></body></html>"
    first = await browser.screenshot(server.url("/g1.html"), policy, html=one.format("舆"))
    second = await browser.screenshot(server.url("/g2.html"), policy, html=one.format("情"))
    assert first != second


async def test_screenshot_of_a_rendered_dom_does_not_run_its_scripts_again(
        server: Server, browser: Browser, policy: FetchPolicy) -> None:
    server.add("/counter.js", "fetch('/counted'); document.body.insertAdjacentHTML('beforeend', '<p>追加</p>');",
               "application/javascript")
    server.add("/counter.html", "<html><body><script src='/counter.js'></script></body></html>")
    rendered = await browser.render(server.url("/counter.html"), policy)
    before = server.seen.paths().count("/counted")
    await browser.screenshot(rendered.final_url, policy, html=rendered.text, javascript=False)
    assert before == 1 and server.seen.paths().count("/counted") == 1


async def test_a_page_that_never_finishes_times_out_and_a_closed_browser_relaunches(server: Server, policy: FetchPolicy) -> None:
    server.add("/spin.html", "<html><body><script>while (true) {}</script></body></html>")
    async with Fetcher() as fetcher:
        quick = Browser(fetcher, BrowserSettings(timeout_s=4))
        try:
            await quick.start()  # launching is not part of a page's time limit
            started = asyncio.get_running_loop().time()
            with pytest.raises(FetchError, match="超时"):
                await quick.render(server.url("/spin.html"), policy)
            assert asyncio.get_running_loop().time() - started < 10
            await quick.close()
            assert quick._browser is None
            result = await quick.render(server.url("/scripted.html"), policy)  # closed, then launched again
            assert "脚本写入的标题" in result.text
        finally:
            await quick.close()
        assert quick._browser is None


async def test_missing_chromium_or_playwright_is_a_clear_fetch_error(
        server: Server, policy: FetchPolicy, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = BrowserSettings(executable="/nonexistent/chromium")
    assert "找不到浏览器 /nonexistent/chromium" in (browser_problem(settings) or "")
    async with Fetcher() as fetcher:
        missing = Browser(fetcher, settings)
        with pytest.raises(FetchError, match="找不到浏览器"):
            await missing.render(server.url("/scripted.html"), policy)
        monkeypatch.setitem(sys.modules, "playwright", None)  # as if the package were not installed
        assert "playwright" in (browser_problem(BrowserSettings()) or "")
        with pytest.raises(FetchError, match="未安装 Python 包 playwright"):
            await Browser(fetcher).render(server.url("/scripted.html"), policy)
    assert browser_problem(BrowserSettings()) is not None
    monkeypatch.undo()
    assert browser_problem(BrowserSettings()) is None  # this machine has both

