"""用户与部门管理 (admin only), through ``alerts.people`` like ``yuqing users add`` — each addition is audited."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp_jinja2
from aiohttp import web

from alerts.people import ROLE_LABELS, PeopleError, add_department, add_user
from console.app import desk_of
from console.views import current_user
from storage import workflow as store

routes = web.RouteTableDef()
ADMIN = frozenset({"admin"})
REFUSED = (PeopleError, store.AlreadyExists, store.NotFound)


async def _users(request: web.Request, error: str | None = None, values: dict[str, str] | None = None,
                 status: int = 200) -> web.Response:
    async with desk_of(request).sessions() as session:
        people, departments = await store.list_users(session), await store.list_departments(session)
    return aiohttp_jinja2.render_template("users.html", request, {
        "people": people, "departments": departments, "roles": ROLE_LABELS, "error": error,
        "values": values or {}, "done": request.query.get("done")}, status=status)


@routes.get("/admin/users")
async def users(request: web.Request) -> web.Response:
    current_user(request, ADMIN)
    return await _users(request)


@routes.post("/admin/users")
async def users_add(request: web.Request) -> web.Response:
    admin = current_user(request, ADMIN)
    form = await request.post()
    values = {k: str(form.get(k, "")).strip() for k in ("name", "role", "department", "email", "phone")}
    password = str(form.get("password", ""))
    try:
        async with desk_of(request).sessions() as session:
            await add_user(session, name=values["name"], role=values["role"], actor=admin.name,
                           now=datetime.now(UTC), department=values["department"] or None,
                           email=values["email"] or None, phone=values["phone"] or None, password=password or None)
    except REFUSED as exc:
        return await _users(request, str(exc), values, status=400)
    raise web.HTTPSeeOther("/admin/users?done=1")


async def _departments(request: web.Request, error: str | None = None, values: dict[str, str] | None = None,
                       status: int = 200) -> web.Response:
    async with desk_of(request).sessions() as session:
        departments, people = await store.list_departments(session), await store.list_users(session)
    members: dict[str, list[str]] = {}
    for person in people:
        if person.department:
            members.setdefault(person.department, []).append(person.name)
    return aiohttp_jinja2.render_template("departments.html", request, {
        "departments": departments, "members": members, "error": error, "values": values or {},
        "done": request.query.get("done")}, status=status)


@routes.get("/admin/departments")
async def departments(request: web.Request) -> web.Response:
    current_user(request, ADMIN)
    return await _departments(request)


@routes.post("/admin/departments")
async def departments_add(request: web.Request) -> web.Response:
    admin = current_user(request, ADMIN)
    form = await request.post()
    values = {k: str(form.get(k, "")) for k in ("name", "contacts", "channels")}
    try:
        async with desk_of(request).sessions() as session:
            await add_department(session, name=values["name"], actor=admin.name, now=datetime.now(UTC),
                                 contacts=values["contacts"].splitlines(),
                                 channels=values["channels"].replace("，", ",").split(","))
    except REFUSED as exc:
        return await _departments(request, str(exc), values, status=400)
    raise web.HTTPSeeOther("/admin/departments?done=1")
