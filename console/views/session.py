"""登录与退出: argon2 passwords, rate-limited, and the landing page for each role."""

from __future__ import annotations

import asyncio
import functools
import secrets

import aiohttp_jinja2
from aiohttp import web
from argon2 import PasswordHasher

from alerts.people import verify_password
from console import auth
from console.app import desk_of
from console.views import current_user
from storage import workflow as store

routes = web.RouteTableDef()
HOME = {"department": "/dept", "informant": "/leads/new"}


def _next(value: object) -> str:
    """Only a local path: a login link must not send the user to another site."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"  # browsers read "/\\host" like "//host": another site
    return value


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    user = current_user(request)
    raise web.HTTPSeeOther(HOME.get(user.role, "/alerts"))


@routes.get("/favicon.ico")
async def favicon(request: web.Request) -> web.Response:
    """Browsers ask for it before reading the page's icon link."""
    raise web.HTTPMovedPermanently("/static/favicon.svg")


@routes.get("/login")
async def login_form(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template("login.html", request, {"next": _next(request.query.get("next")),
                                                                  "error": None, "name": ""})


@routes.post("/login")
async def login(request: web.Request) -> web.Response:
    desk = desk_of(request)
    form = await request.post()
    name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
    keys = (f"ip:{request.remote}", f"user:{name}")
    wait_s = desk.limiter.wait_s(*keys)
    if wait_s > 0:
        minutes = int(wait_s // 60) + 1
        page = aiohttp_jinja2.render_template("login.html", request, {
            "next": _next(form.get("next")), "name": name,
            "error": f"登录失败次数过多，请 {minutes} 分钟后再试 (too many failed logins)"}, status=429)
        page.headers["Retry-After"] = str(int(wait_s) + 1)
        return page
    person = None
    async with desk.sessions() as session:
        try:
            person = await store.find_user(session, name)
        except store.NotFound:
            pass
    stored = person.password_hash if person else None
    # Hashing takes tens of milliseconds: keep it off the loop; unknown names cost the same time.
    ok = await asyncio.to_thread(verify_password, stored or _dummy(), password) and stored is not None
    if not ok or person is None:
        desk.limiter.failed(*keys)
        return aiohttp_jinja2.render_template("login.html", request, {
            "next": _next(form.get("next")), "name": name,
            "error": "用户名或密码错误 (wrong user name or password)"}, status=401)
    desk.limiter.succeeded(keys[1])
    response = web.HTTPSeeOther(_next(form.get("next")) if form.get("next") != "/" else HOME.get(person.role, "/alerts"))
    auth.set_cookie(response, request, auth.SESSION_COOKIE, desk.signer.session_token(person.name, stored),
                    max_age=auth.SESSION_TTL_S)
    raise response


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    response = web.HTTPSeeOther("/login")
    response.del_cookie(auth.SESSION_COOKIE, path="/")
    raise response


@functools.cache
def _dummy() -> str:
    return PasswordHasher().hash(secrets.token_hex(16))
