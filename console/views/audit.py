"""审计日志 for 督查: the chain verified by ``alerts.audit.verify`` (as ``yuqing audit verify``), the latest
entries, and the whole log as the same CSV as ``yuqing audit export``."""

from __future__ import annotations

from collections import deque

import aiohttp_jinja2
from aiohttp import web

from alerts import audit
from console.app import desk_of
from console.auth import VIEWERS
from console.views import current_user
from storage import workflow as store

routes = web.RouteTableDef()
SHOWN = 200


@routes.get("/audit")
async def audit_page(request: web.Request) -> web.Response:
    current_user(request, VIEWERS)
    async with desk_of(request).sessions() as session:
        verdict = await audit.verify(session)
        latest: deque[store.AuditEntry] = deque(maxlen=SHOWN)
        async for entry in store.audit_entries(session):
            latest.append(entry)
    return aiohttp_jinja2.render_template("audit.html", request, {
        "verdict": verdict, "entries": list(reversed(latest)), "shown": SHOWN})


@routes.get("/audit.csv")
async def audit_csv(request: web.Request) -> web.Response:
    current_user(request, VIEWERS)
    async with desk_of(request).sessions() as session:
        entries = [entry async for entry in store.audit_entries(session)]
    return web.Response(body=audit.to_csv(entries).encode("utf-8-sig"), headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": "attachment; filename=\"audit-log.csv\"; filename*=UTF-8''%E5%AE%A1%E8%AE%A1%E6%97%A5%E5%BF%97.csv"})
