"""告警队列、告警详情与处置操作、事件传播路径、部门交办视图.

Every action posts to ``/alerts/{id}/act`` and goes through ``alerts.workflow.apply`` — the same
function as ``yuqing alerts …`` — after the object check here: a department may open and act on
what was dispatched to it only; anything else answers 404, exactly as for an alert that does not
exist, so URL guessing learns nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

import aiohttp_jinja2
from aiohttp import web

from alerts import forms
from alerts.deadlines import CHINA, DONE_IN, LABELS, overdue
from alerts.workflow import (
    GRADES,
    RULES,
    STATE_LABELS,
    Request,
    WorkflowError,
    allowed_actions,
    apply,
    case_deadlines,
)
from console.app import Desk, desk_of
from console.auth import STAFF, VIEWERS
from console.views import current_user, may_see
from crawler.fetch.charset import decode_body
from storage import queries
from storage import workflow as store

routes = web.RouteTableDef()
READERS = VIEWERS | {"department", "informant"}


@dataclass(frozen=True)
class Row:
    case: store.Case
    next_kind: str | None
    next_due: datetime | None
    missed: list[str] = field(default_factory=list)


def _row(case: store.Case, desk: Desk, now: datetime) -> Row:
    deadlines = case_deadlines(case, desk.deadlines())
    pending = [(kind, due) for kind, due in deadlines.items() if case.state not in DONE_IN[kind]]
    kind, due = pending[0] if pending else (None, None)
    return Row(case, kind, due, overdue(case.state, deadlines, now))


def _int(value: str | None, default: int) -> int:
    try:
        return max(1, int(value or default))
    except ValueError:
        return default


@routes.get("/alerts")
async def queue(request: web.Request) -> web.Response:
    """Filters state, grade, category, source, department, overdue; earliest deadline first."""
    user = current_user(request, VIEWERS | {"department"})
    desk, now, q = desk_of(request), datetime.now(UTC), request.query
    async with desk.sessions() as session:
        cases = [c for c in await store.list_cases(session) if may_see(user, c)]
        departments = await store.list_departments(session)
    wanted = {key: q.get(key, "") for key in ("state", "grade", "category", "source", "department", "overdue")}
    rows = []
    for case in cases:
        if wanted["state"] == "open" and case.state not in {"new", "assessing", "reported", "dispatched", "replied"}:
            continue
        if wanted["state"] not in ("", "open") and case.state != wanted["state"]:
            continue
        if (wanted["grade"] and case.grade != wanted["grade"]) or (
                wanted["category"] and case.category != wanted["category"]) or (
                wanted["source"] and case.source_id != wanted["source"]) or (
                wanted["department"] and (case.department or "") != wanted["department"]):
            continue
        row = _row(case, desk, now)
        if wanted["overdue"] and not row.missed:
            continue
        rows.append(row)
    far = datetime.max.replace(tzinfo=UTC)
    rows.sort(key=lambda r: (r.next_due is None, r.next_due or far, -r.case.found_at.timestamp(), -r.case.alert_id))
    size = desk.page_size
    pages = max(1, -(-len(rows) // size))
    page = min(_int(q.get("page"), 1), pages)
    query = {k: v for k, v in wanted.items() if v}
    return aiohttp_jinja2.render_template("queue.html", request, {
        "rows": rows[(page - 1) * size: page * size], "total": len(rows), "page": page, "pages": pages,
        "wanted": wanted, "query": urlencode(query), "now": now, "states": STATE_LABELS, "grades": GRADES,
        "categories": sorted({c.category for c in cases}), "sources": sorted({c.source_id for c in cases}),
        "source_names": desk.source_names(), "departments": [d.name for d in departments],
        "deadline_labels": LABELS,
    })


async def _visible_case(request: web.Request, user: store.Person, alert_id: int) -> store.CaseFile:
    async with desk_of(request).sessions() as session:
        try:
            file = await store.load_case_file(session, alert_id)
        except store.NotFound:
            raise web.HTTPNotFound(text=f"告警 {alert_id} 不存在 (no such alert)") from None
    if not may_see(user, file.case):
        raise web.HTTPNotFound(text=f"告警 {alert_id} 不存在 (no such alert)")
    return file


def _actions(user: store.Person, case: store.Case) -> list[str]:
    if user.role == "department" and case.department_id != user.department_id:
        return []
    return allowed_actions(case.state, user.role)


async def _detail(request: web.Request, user: store.Person, alert_id: int, error: str | None = None,
                  status: int = 200) -> web.Response:
    desk, now = desk_of(request), datetime.now(UTC)
    file = await _visible_case(request, user, alert_id)
    async with desk.sessions() as session:
        digest = await queries.evidence_digest(session, alert_id)
        departments = await store.list_departments(session)
    verdict = await asyncio.to_thread(desk.evidence.verify, digest) if digest else None
    case = file.case
    deadlines = case_deadlines(case, desk.deadlines())
    done_at = {kind: next((s.entry.at for s in file.history if s.entry.to_state in DONE_IN[kind]), None)
               for kind, _ in deadlines.items()}
    default_due = (now + timedelta(seconds=desk.deadlines().reply)).astimezone(CHINA)
    return aiohttp_jinja2.render_template("alert.html", request, {
        "file": file, "case": case, "now": now, "digest": digest, "verdict": verdict,
        "deadlines": deadlines.items(), "done_at": done_at, "done_in": DONE_IN,
        "missed": overdue(case.state, deadlines, now), "actions": _actions(user, case), "rules": RULES,
        "grades": GRADES, "departments": [d.name for d in departments], "error": error,
        "default_due": default_due.strftime("%Y-%m-%dT%H:%M"), "done": request.query.get("done"),
        "source_names": desk.source_names(), "form_kinds": forms.TITLES,
        "back": request.query.get("back", ""),
    }, status=status)


def _alert_id(request: web.Request) -> int:
    return int(request.match_info["alert_id"])


@routes.get(r"/alerts/{alert_id:\d+}")
async def detail(request: web.Request) -> web.Response:
    user = current_user(request, READERS)
    return await _detail(request, user, _alert_id(request))


def _due(value: str) -> datetime | None:
    """A ``datetime-local`` value, read as Beijing time."""
    if not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise WorkflowError("办理期限格式应为 2026-10-09 17:00 (bad due time)") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=CHINA)).astimezone(UTC)


@routes.post(r"/alerts/{alert_id:\d+}/act")
async def act(request: web.Request) -> web.Response:
    """One workflow step; refused requests show the workflow's reason on the alert page."""
    user = current_user(request, VIEWERS | {"department"})
    alert_id, desk = _alert_id(request), desk_of(request)
    await _visible_case(request, user, alert_id)
    form = await request.post()
    action = str(form.get("action", ""))
    rule = RULES.get(action)

    def given(name: str) -> str | None:
        value = form.get(name)
        return str(value) if rule is not None and name in rule.needs and isinstance(value, str) else None

    try:
        due_text = given("due")
        workflow_request = Request(action, note=str(form.get("note", "")) or None, grade=given("grade"),
                                   department=given("department"), due=_due(due_text) if due_text else None,
                                   text=given("text"), report=given("report"))
        async with desk.sessions() as session:
            await apply(session, alert_id, user.name, workflow_request, settings=desk.deadlines())
    except WorkflowError as exc:
        return await _detail(request, user, alert_id, error=str(exc), status=409)
    except store.NotFound as exc:
        return await _detail(request, user, alert_id, error=str(exc), status=409)
    back = str(form.get("back", ""))
    if back.startswith("/") and not back.startswith("//"):
        raise web.HTTPSeeOther(back)
    raise web.HTTPSeeOther(f"/alerts/{alert_id}?done={quote(action)}")


@routes.get(r"/alerts/{alert_id:\d+}/archive")
async def archive(request: web.Request) -> web.Response:
    """The archived page from the evidence WARC, as plain text: its markup is shown, never run."""
    user = current_user(request, READERS)
    alert_id, desk = _alert_id(request), desk_of(request)
    await _visible_case(request, user, alert_id)
    async with desk.sessions() as session:
        digest = await queries.evidence_digest(session, alert_id)
    body = await asyncio.to_thread(desk.evidence.archived_body, digest) if digest else None
    if body is None:
        raise web.HTTPNotFound(text="此告警没有可读的存档证据 (no readable archived copy)")
    text, _ = decode_body(body, None)  # the crawler's own charset rules: <meta>, strict UTF-8, detection
    response = web.Response(text=text, content_type="text/plain", charset="utf-8")
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


@routes.get(r"/alerts/{alert_id:\d+}/form/{kind}")
async def form_docx(request: web.Request) -> web.Response:
    """处理单 / 交办单 / 结案报告 as .docx, from alerts.forms like ``yuqing alerts form``."""
    user = current_user(request, VIEWERS | {"department"})
    alert_id, desk = _alert_id(request), desk_of(request)
    await _visible_case(request, user, alert_id)
    try:
        kind = forms.form_kind(request.match_info["kind"])
    except ValueError:
        raise web.HTTPNotFound(text="没有这种表单 (no such form)") from None
    async with desk.sessions() as session:
        data = await forms.render_form(session, alert_id, kind, institution=desk.institution,
                                       settings=desk.deadlines(), source_names=desk.source_names())
    name = forms.file_name(kind, alert_id)
    return web.Response(body=data, headers={
        "Content-Type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "Content-Disposition": f"attachment; filename=\"alert-{alert_id}.docx\"; filename*=UTF-8''{quote(name)}"})


@routes.get("/incidents")
async def incidents(request: web.Request) -> web.Response:
    """Each story found on more than one page, with its copies in order of discovery."""
    current_user(request, VIEWERS)
    desk = desk_of(request)
    async with desk.sessions() as session:
        found = [i for i in await store.list_incidents(session, 200) if len(i.copies) > 1][:50]
        states = {c.alert_id: c for c in await store.list_cases(session)}
    return aiohttp_jinja2.render_template("incidents.html", request, {
        "incidents": found, "cases": states, "source_names": desk.source_names()})


@routes.get("/dept")
async def department_view(request: web.Request) -> web.Response:
    """What was dispatched to the user's department, with a reply form for each open item."""
    user = current_user(request, frozenset({"department"}))
    desk, now = desk_of(request), datetime.now(UTC)
    async with desk.sessions() as session:
        cases = [c for c in await store.list_cases(session) if may_see(user, c)]
        files = {c.alert_id: await store.load_case_file(session, c.alert_id) for c in cases if c.state == "dispatched"}
    rows = sorted((_row(c, desk, now) for c in cases),
                  key=lambda r: (r.case.state != "dispatched", r.next_due or datetime.max.replace(tzinfo=UTC)))
    return aiohttp_jinja2.render_template("dept.html", request, {"rows": rows, "files": files, "now": now,
                                                                 "staff": STAFF})
