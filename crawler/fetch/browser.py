"""Headless Chromium for pages written by JavaScript (``render: true``) and evidence screenshots.

Settings read (``sources.yaml`` ``browser:``, see ``BrowserSettings``): ``executable`` (default:
``chromium`` on the PATH), ``pages`` (pages open at once, per process), ``timeout`` (per page).
Policy settings read: all of the ``Fetcher``'s, because every byte the browser sees is fetched by
the ``Fetcher``.

Why the browser never touches the network itself: every request a page makes — the document,
scripts, styles, XHR/fetch, frames, images — is intercepted (``BrowserContext.route``), fetched
by the same ``Fetcher`` under the source's policy (network guard after DNS on every hop, User-Agent,
``cookie_env`` cookie, size cap, robots.txt, per-host limit) and handed back with
``route.fulfill``; a refused request is aborted. Whatever escapes interception (WebSocket, WebRTC,
a service worker) meets a proxy that does not exist, so it fails rather than reaching an address
the guard would refuse. Playwright is imported only when a page is first rendered, so the daemon
runs without it when no source renders.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import shutil
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from yarl import URL

from crawler.fetch.fetcher import Fetcher
from crawler.types import FetchError, FetchPolicy, FetchResult, Validators

if TYPE_CHECKING:
    from playwright.async_api import Browser as PwBrowser
    from playwright.async_api import BrowserContext, Page, Playwright, Request, Route

    from crawler.config.sources import BrowserOptions

log = logging.getLogger("yuqing.browser")

VIEWPORT = {"width": 1280, "height": 900}
MAX_SCREENSHOT_HEIGHT_PX = 16_000  # a bottomless forum page would make a PNG of hundreds of MB
MAX_REQUESTS_PER_PAGE = 300
LAUNCH_TIMEOUT_S = 60.0  # starting Chromium on a busy machine; not part of any page's time limit
PAGE_BYTES_FACTOR = 3  # all responses of one page together: 3 × the source's max_body
# After "load", scripts often fetch the content: wait until no request of the page has been in
# flight for QUIET_S (at most SETTLE_MAX_S), like Playwright's "networkidle" but measured on our
# own fetches, so a quiet page is done after 0.3 s instead of 0.5 s.
QUIET_S = 0.3
SETTLE_MAX_S = 5.0
_NOWHERE_PROXY = "http://127.0.0.1:9"  # the discard port: nothing listens, any un-routed traffic fails
# Chromium flags: traffic that page.route cannot see goes to the dead proxy (loopback included),
# no WebRTC UDP around it, no background or component traffic.
_ARGS = (
    f"--proxy-server={_NOWHERE_PROXY}",
    "--proxy-bypass-list=<-loopback>",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-domain-reliability",
    "--no-first-run",
    "--lang=zh-CN",
    "--disable-dev-shm-usage",  # containers give /dev/shm 64 MB: large pages would crash the renderer
)
RENDERED_HEADER = "X-Yuqing-Rendered"  # added to a rendered result's headers (and so to its WARC record)
# Response headers that describe the transfer, not the (already decoded) bytes we hand over.
_TRANSFER_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length", "set-cookie"})
# Not needed to read a page's text (they stay for screenshots).
_RENDER_SKIPS = frozenset({"image", "media", "font"})


@dataclass(frozen=True)
class BrowserSettings:
    """How the shared browser runs; plain values so tests build one directly."""

    executable: str | None = None  # None: ``chromium`` on the PATH
    pages: int = 2  # pages rendering at once in this process
    timeout_s: float = 30.0  # one page: fetches, scripts and the screenshot

    @classmethod
    def from_config(cls, options: BrowserOptions) -> BrowserSettings:
        """From the ``browser:`` section of sources.yaml."""
        return cls(executable=options.executable, pages=options.pages, timeout_s=options.timeout)

    def resolved_executable(self) -> str | None:
        """The Chromium binary to launch, or None when there is none."""
        if self.executable:
            path = shutil.which(self.executable)
            return path if path and os.access(path, os.X_OK) else None
        return shutil.which("chromium") or shutil.which("chromium-browser")


def browser_problem(settings: BrowserSettings) -> str | None:
    """Why pages cannot be rendered here (Chinese first), or None when they can."""
    if importlib.util.find_spec("playwright") is None:
        return "未安装 Python 包 playwright：pip install 'yuqing[render]' (playwright package not installed)"
    if settings.resolved_executable() is None:
        wanted = settings.executable or "chromium"
        return (f"找不到浏览器 {wanted}：请安装 Debian 软件包 chromium fonts-noto-cjk，或在 sources.yaml 的 "
                f"browser.executable 写明路径 (Chromium executable not found)")
    return None


@dataclass
class _PageFetches:
    """The requests of one page: what the browser may fetch and what it has cost so far."""

    policy: FetchPolicy
    host: str  # the document's host: the only one that gets the source's cookie
    document_url: str  # the navigation served from ``document`` instead of the network
    document: FetchResult | None
    skip_types: frozenset[str]
    budget_bytes: int
    spent_bytes: int = 0
    requests: int = 0
    in_flight: int = 0
    last_activity: float = field(default_factory=time.monotonic)
    refused: list[str] = field(default_factory=list)

    async def settled(self) -> None:
        """Return once no request has been in flight for ``QUIET_S``, or after ``SETTLE_MAX_S``."""
        deadline = time.monotonic() + SETTLE_MAX_S
        while time.monotonic() < deadline:
            quiet_for = time.monotonic() - self.last_activity
            if self.in_flight == 0 and quiet_for >= QUIET_S:
                return
            await asyncio.sleep(max(0.02, QUIET_S - quiet_for) if self.in_flight == 0 else 0.05)

    def policy_for(self, url: URL) -> FetchPolicy:
        """A sub-request: no retries and no start spacing (a browser would not wait a second per
        script); the per-host limit still applies, and the cookie only goes to the document's host."""
        policy = replace(self.policy, retries=0, delay_s=0.0)
        return policy if url.host == self.host else replace(policy, cookie=None)


class Browser:
    """One Chromium per process, launched on first use, shared by every source; close at shutdown."""

    def __init__(self, fetcher: Fetcher, settings: BrowserSettings | None = None) -> None:
        self.fetcher = fetcher
        self.settings = settings or BrowserSettings()
        self._slots = asyncio.Semaphore(max(1, self.settings.pages))
        self._start_lock = asyncio.Lock()
        self._playwright: Playwright | None = None
        self._browser: PwBrowser | None = None

    async def render(self, url: str, policy: FetchPolicy, validators: Validators | None = None) -> FetchResult:
        """Fetch ``url`` (exactly as the ``Fetcher`` does), run its scripts, and return the DOM.

        The result is the document's exchange (status, headers, final URL) with the rendered DOM
        as text and UTF-8 body. A 304 to the conditional GET comes back as is, without rendering.
        Raises ``FetchError`` (never crashes) when the browser is missing or the page fails.
        """
        started = time.monotonic()
        document = await self.fetcher.fetch(url, policy, validators)
        if document.not_modified or not _is_html(document):
            return document  # nothing to render: a 304, or JSON/XML/text that a script cannot change
        page_url = document.final_url
        fetches = self._fetches(policy, page_url, document, _RENDER_SKIPS)
        html, final_url, _ = await self._in_page(url, fetches, javascript=True, capture=False)
        body = html.encode("utf-8")
        if len(body) > policy.max_body_bytes:
            raise FetchError(url, f"渲染后页面过大 rendered page larger than {policy.max_body_bytes} bytes")
        headers = tuple((k, v) for k, v in document.headers if k.lower() not in ("content-type", "content-length"))
        return replace(
            document,
            final_url=final_url,
            # Stored as evidence: the record itself says its body is the DOM, not the bytes received.
            headers=(*headers, ("Content-Type", "text/html; charset=utf-8"), (RENDERED_HEADER, "headless-chromium")),
            body=body,
            text=html,
            encoding="utf-8",
            elapsed_ms=int((time.monotonic() - started) * 1000),
        )

    async def screenshot(self, url: str, policy: FetchPolicy, *, html: str | None = None,
                         javascript: bool = True) -> bytes:
        """A full-page PNG of ``url``; with ``html`` the page shown is that markup at that address
        (the bytes kept as evidence, not a fresh copy that may have changed). Images, styles and
        fonts are fetched through the guard like everything else. ``javascript=False`` for a DOM
        that scripts have already written (running them again would add their output twice)."""
        if html is None:
            document = await self.fetcher.fetch(url, policy)
        else:
            document = FetchResult(url=url, final_url=url, status=200, headers=(), body=b"", text=html,
                                   encoding="utf-8", fetched_at=datetime.now(UTC), elapsed_ms=0)
        fetches = self._fetches(policy, document.final_url, document, frozenset())
        _, _, png = await self._in_page(url, fetches, javascript=javascript, capture=True)
        return png

    async def start(self) -> None:
        """Launch Chromium now rather than at the first page; ``FetchError`` when it cannot run."""
        await self._launched("chromium")

    async def close(self) -> None:
        """Close Chromium and the Playwright driver; a later page launches them again."""
        async with self._start_lock:
            browser, playwright = self._browser, self._playwright
            self._browser = self._playwright = None
            if browser is not None:
                try:
                    await browser.close()
                except Exception as exc:  # noqa: BLE001 (already gone: nothing to close)
                    log.debug("browser already closed: %s", exc)
            if playwright is not None:
                await playwright.stop()
            if browser is not None:
                log.info("browser closed")

    def _fetches(self, policy: FetchPolicy, page_url: str, document: FetchResult,
                 skip_types: frozenset[str]) -> _PageFetches:
        return _PageFetches(policy=policy, host=URL(page_url).host or "", document_url=page_url, document=document,
                            skip_types=skip_types, budget_bytes=PAGE_BYTES_FACTOR * policy.max_body_bytes)

    async def _in_page(self, url: str, fetches: _PageFetches, *, javascript: bool,
                       capture: bool) -> tuple[str, str, bytes]:
        """Open a fresh context (no cookies or storage shared between pages), load the page, and
        return (DOM, final URL, PNG or b""). All failures become ``FetchError``."""
        async with self._slots:
            browser = await self._launched(url)
            from playwright.async_api import Error as PwError

            async def serve(route: Route, request: Request) -> None:
                await self._serve(route, request, fetches)

            context: BrowserContext | None = None
            try:
                async with asyncio.timeout(self.settings.timeout_s):
                    context = await browser.new_context(
                        user_agent=fetches.policy.user_agent, locale="zh-CN", timezone_id="Asia/Shanghai",
                        viewport=VIEWPORT, java_script_enabled=javascript, accept_downloads=False,
                        service_workers="block")
                    context.set_default_timeout(self.settings.timeout_s * 1000)
                    await context.route("**/*", serve)
                    page = await context.new_page()
                    response = await page.goto(fetches.document_url, wait_until="load")
                    if response is None or not response.ok:
                        status = response.status if response is not None else "—"
                        raise FetchError(url, f"浏览器未能打开页面 page did not load (HTTP {status})")
                    await fetches.settled()  # a page that polls forever is taken as it is then
                    if capture:
                        return "", page.url, await self._capture(page)
                    return await page.content(), page.url, b""
            except TimeoutError:
                raise FetchError(url, f"浏览器渲染超时 page render timed out after {self.settings.timeout_s:g}s") from None
            except PwError as exc:
                reason = str(exc).splitlines()[0][:200]
                raise FetchError(url, f"浏览器出错 browser error: {reason}") from None
            finally:
                if fetches.refused:
                    log.info("browser refused url=%s requests=%s first=%r", url, len(fetches.refused),
                             fetches.refused[0])
                if context is not None:
                    try:
                        await context.close()
                    except PwError as exc:  # the browser died meanwhile; _launched starts a new one
                        log.warning("browser context close failed: %s", exc)

    @staticmethod
    async def _capture(page: Page) -> bytes:
        """Full page, cut at ``MAX_SCREENSHOT_HEIGHT_PX``."""
        height = await page.evaluate("() => document.documentElement.scrollHeight")
        clip = {"x": 0, "y": 0, "width": VIEWPORT["width"],
                "height": max(1, min(int(height or 1), MAX_SCREENSHOT_HEIGHT_PX))}
        return bytes(await page.screenshot(full_page=True, clip=clip, type="png", animations="disabled"))

    async def _serve(self, route: Route, request: Request, fetches: _PageFetches) -> None:
        """Answer one request of the page from the ``Fetcher``, or abort it."""
        from playwright.async_api import Error as PwError

        try:
            reason = await self._answer(route, request, fetches)
        except PwError:
            return  # the page or context closed meanwhile
        except Exception as exc:  # an unanswered request would stall the page until the timeout
            log.exception("browser request failed url=%s", request.url)
            reason = f"内部错误 internal error: {type(exc).__name__}"
        if reason is not None:
            fetches.refused.append(f"{request.url}: {reason}")
            try:
                await route.abort("blockedbyclient")
            except PwError:
                return  # closed meanwhile: nothing left to abort

    async def _answer(self, route: Route, request: Request, fetches: _PageFetches) -> str | None:
        """Fulfil the request and return None, or return why it is refused."""
        if request.method not in ("GET", "HEAD"):
            return f"只读取，不提交 method {request.method} refused"  # a patrol never posts forms
        if fetches.document is not None and request.is_navigation_request():
            # The first navigation is our goto (Chromium may spell the URL differently, e.g. percent-
            # encoded); served once, so a reload or a frame goes through the fetcher.
            document, fetches.document = fetches.document, None
            fetches.last_activity = time.monotonic()  # scripts start now: the quiet period counts from here
            await route.fulfill(status=document.status, body=document.text.encode("utf-8"),
                                headers={"Content-Type": "text/html; charset=utf-8"})
            return None
        if request.resource_type in fetches.skip_types:
            return f"不需要 {request.resource_type} not needed"
        fetches.requests += 1
        if fetches.requests > MAX_REQUESTS_PER_PAGE:
            return f"请求过多 more than {MAX_REQUESTS_PER_PAGE} requests"
        fetches.in_flight += 1
        fetches.last_activity = time.monotonic()
        try:
            target = URL(request.url)
            result = await self.fetcher.fetch(request.url, fetches.policy_for(target))
        except (TypeError, ValueError):
            return "无效网址 invalid URL"
        except FetchError as exc:
            return exc.reason
        finally:
            fetches.in_flight -= 1
            fetches.last_activity = time.monotonic()
        fetches.spent_bytes += len(result.body)
        if fetches.spent_bytes > fetches.budget_bytes:
            return f"页面资源过大 page resources larger than {fetches.budget_bytes} bytes"
        headers = {k: v for k, v in result.headers if k.lower() not in _TRANSFER_HEADERS}
        await route.fulfill(status=result.status, headers=headers, body=result.body)
        return None

    async def _launched(self, url: str) -> PwBrowser:
        """The shared browser, launched on first use (and again if it died)."""
        async with self._start_lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            problem = browser_problem(self.settings)
            if problem is not None:
                raise FetchError(url, problem)
            from playwright.async_api import Error as PwError
            from playwright.async_api import async_playwright

            if self._playwright is None:
                self._playwright = await async_playwright().start()
            args = list(_ARGS)
            if os.geteuid() == 0:
                args.append("--no-sandbox")  # Chromium refuses to run its sandbox as root
            try:
                self._browser = await self._playwright.chromium.launch(
                    executable_path=self.settings.resolved_executable(), args=args, headless=True,
                    timeout=LAUNCH_TIMEOUT_S * 1000)
            except PwError as exc:
                reason = str(exc).splitlines()[0][:200]
                raise FetchError(url, f"无法启动浏览器 Chromium failed to start: {reason}") from None
            log.info("browser started executable=%s", self.settings.resolved_executable())
            return self._browser


def _is_html(result: FetchResult) -> bool:
    """HTML by its Content-Type, or by its first bytes when the server sends none."""
    content_type = next((v for k, v in result.headers if k.lower() == "content-type"), "").lower()
    if content_type:
        return "html" in content_type
    return result.text.lstrip()[:100].lower().startswith(("<!doctype html", "<html"))
