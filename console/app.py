"""The desk's application factory, middlewares and server.

``make_app(desk)`` builds the aiohttp application; ``open_desk`` makes a Desk from a database URL,
a config folder and a data folder (``yuqing serve``), and the daemon builds one over its own engine
and live configuration (``yuqing run --web``). Settings read: the deadlines and channels of
``alerts.yaml`` and the sources of ``sources.yaml``, through ``Desk.config`` at each request, so a
hot reload reaches the desk too.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.deadlines import DeadlineSettings
from alerts.leads import MAX_SCREENSHOT_BYTES
from console import auth, templating
from crawler.config.loader import Config
from storage import workflow as store
from storage.evidence import EvidenceStore

log = logging.getLogger("yuqing.console")
HERE = Path(__file__).parent
MAX_UPLOAD_FILES = 5
MAX_BODY_BYTES = MAX_UPLOAD_FILES * MAX_SCREENSHOT_BYTES // 2  # several screenshots, never a flood
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
PUBLIC = ("/login", "/static/", "/favicon.ico")
DESK: web.AppKey[Desk] = web.AppKey("desk")


@dataclass
class Desk:
    """What the pages need: the database, the data folder and the current configuration (None: invalid)."""

    sessions: async_sessionmaker[AsyncSession]
    data_dir: Path
    config: Callable[[], Config | None]
    signer: auth.Signer
    limiter: auth.LoginLimiter = field(default_factory=auth.LoginLimiter)
    institution: str = "本单位"
    page_size: int = 20  # alerts per page of the queue

    @property
    def evidence(self) -> EvidenceStore:
        return EvidenceStore(self.data_dir / "evidence")

    def deadlines(self) -> DeadlineSettings:
        config = self.config()
        return config.alerts.deadlines if config else DeadlineSettings()

    def channels_for(self, grade: str) -> list[str]:
        config = self.config()
        return config.alerts.channels_for(grade) if config else []

    def source_names(self) -> dict[str, str]:
        config = self.config()
        names = {s.id: s.display_name for s in config.sources.sources} if config else {}
        return {"informant": "信息员报送", **names}


def desk_of(request: web.Request) -> Desk:
    return request.app[DESK]


@web.middleware
async def security_headers(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                           ) -> web.StreamResponse:
    """A strict CSP and friends on every answer, errors included: crawled text never runs."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _harden(request, exc)
        raise
    _harden(request, response)
    return response


def _harden(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"  # a click to the original leaks no desk URL
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"


@web.middleware
async def csrf_and_session(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                           ) -> web.StreamResponse:
    """Attach the CSRF nonce and the logged-in user; refuse forged posts; send strangers to /login."""
    desk = desk_of(request)
    nonce = request.cookies.get(auth.NONCE_COOKIE)
    fresh_nonce = None
    if not nonce or len(nonce) != 43:
        nonce = fresh_nonce = secrets.token_urlsafe(32)
    request[auth.CSRF] = desk.signer.csrf_token(nonce)
    if request.method == "POST":
        origin = request.headers.get("Origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.host:
            raise web.HTTPForbidden(text="跨站请求被拒绝 (cross-origin post refused)")
        form = await request.post()
        if fresh_nonce or not desk.signer.csrf_ok(nonce, form.get("csrf")):
            raise web.HTTPForbidden(text="表单已失效或缺少安全令牌，请刷新页面后重试 (CSRF token missing or invalid)")
    request[auth.USER] = await _session_user(request, desk)
    if request[auth.USER] is None and not request.path.startswith(PUBLIC):
        target = request.path_qs if request.method == "GET" else "/"
        raise web.HTTPSeeOther(f"/login?next={quote(target)}")
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if fresh_nonce:
            auth.set_cookie(exc, request, auth.NONCE_COOKIE, fresh_nonce)
        raise
    if fresh_nonce:
        auth.set_cookie(response, request, auth.NONCE_COOKIE, fresh_nonce)
    return response


async def _session_user(request: web.Request, desk: Desk) -> store.Person | None:
    token = request.cookies.get(auth.SESSION_COOKIE)
    claims = desk.signer.read_session(token) if token else None
    if claims is None:
        return None
    name, fingerprint = claims
    async with desk.sessions() as session:
        try:
            person = await store.find_user(session, name)
        except store.NotFound:
            return None
    if person.password_hash is None or auth.password_fingerprint(person.password_hash) != fingerprint:
        return None
    return person


@web.middleware
async def error_page(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                     ) -> web.StreamResponse:
    """Refusals (403, 404, 413, 429 …) as a page of the desk, in Chinese, keeping their cookies and Retry-After."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type != "text/plain" or request.path.startswith("/static/"):
            raise
        titles = {403: "无权访问", 404: "页面不存在", 413: "上传内容过大", 429: "尝试次数过多"}
        page = aiohttp_jinja2.render_template("error.html", request, {
            "status": exc.status, "title": titles.get(exc.status, "请求未能完成"), "message": exc.text or ""},
            status=exc.status)
        for name, value in exc.headers.items():
            if name.lower() in {"set-cookie", "retry-after"}:
                page.headers.add(name, value)
        return page


def make_app(desk: Desk) -> web.Application:
    from console.views import admin, alerts, audit, dashboard, leads, patrol, session

    app = web.Application(middlewares=[security_headers, error_page, csrf_and_session],
                          client_max_size=MAX_BODY_BYTES)
    app[DESK] = desk
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"),
                               autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                               context_processors=[templating.context])
    templating.install(env)
    app.router.add_static("/static/", HERE / "static", name="static")
    for module in (session, alerts, leads, patrol, dashboard, audit, admin):
        app.router.add_routes(module.routes)
    return app


async def serve(app: web.Application, host: str, port: int, stop: asyncio.Event,
                on_started: Callable[[str], None] | None = None) -> None:
    """Serve until ``stop`` is set; the daemon runs this next to its patrols."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        url = f"http://{host}:{port}/"
        log.info("工作台已启动 desk listening on %s", url)
        if on_started:
            on_started(url)
        await stop.wait()
    finally:
        await runner.cleanup()
