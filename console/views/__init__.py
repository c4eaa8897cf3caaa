"""One module per page group; each exposes ``routes``."""

from __future__ import annotations

from aiohttp import web

from console.auth import USER, VIEWERS
from storage import workflow as store


def current_user(request: web.Request, roles: frozenset[str] | None = None) -> store.Person:
    """The logged-in person, or 403 when their role may not open this page (checked on the server)."""
    user: store.Person | None = request.get(USER)
    if user is None:
        raise web.HTTPSeeOther("/login")
    if roles is not None and user.role not in roles:
        raise web.HTTPForbidden(text="您的角色无权打开此页面 (your role may not open this page)")
    return user


def may_see(user: store.Person, case: store.Case) -> bool:
    """Viewers see every case; a department only what was dispatched to it; an informant only their own leads."""
    if user.role in VIEWERS:
        return True
    if user.role == "department":
        return case.department_id is not None and case.department_id == user.department_id
    if user.role == "informant":
        return case.source_id == "informant" and case.author == user.name
    return False
