"""What templates see: the user, the CSRF token, the menu for their role, and filters that show
times in Beijing time and mark matched terms without ever trusting crawled text (escape first,
then wrap the matches in ``<mark>``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from alerts.audit import ACTION_LABELS, state_label
from alerts.deadlines import LABELS, local_time, span_text
from alerts.people import ROLE_LABELS
from alerts.workflow import STATE_LABELS
from console.auth import CSRF, STAFF, USER, VIEWERS
from storage.workflow import AuditEntry

# (path, label, roles that see it)
MENU = (
    ("/alerts", "告警队列", VIEWERS),
    ("/dept", "本部门交办", frozenset({"department"})),
    ("/incidents", "事件与传播", VIEWERS),
    ("/leads/new", "报送线索", STAFF | {"informant"}),
    ("/sources", "来源状态", VIEWERS),
    ("/ledger", "巡查台账", VIEWERS),
    ("/dashboard", "统计", VIEWERS),
    ("/audit", "审计日志", VIEWERS),
    ("/admin/users", "用户", frozenset({"admin"})),
    ("/admin/departments", "部门", frozenset({"admin"})),
)


async def context(request: web.Request) -> dict[str, Any]:
    user = request.get(USER)
    return {
        "user": user,
        "csrf": request.get(CSRF, ""),
        "path": request.path,
        "menu": [(path, label) for path, label, roles in MENU if user and user.role in roles],
        "role_label": ROLE_LABELS.get(user.role, user.role) if user else "",
    }


local = local_time


def span(seconds: float) -> str:
    return span_text(seconds, sep="")


def countdown(due: datetime | None, now: datetime | None = None) -> str:
    if due is None:
        return "—"
    left = (due - (now or datetime.now(UTC))).total_seconds()
    return f"剩余 {span(left)}" if left >= 0 else f"超时 {span(left)}"


def highlight(text: str | None, terms: list[str]) -> Markup:
    """``text`` escaped, with every occurrence of a matched term inside ``<mark>``."""
    text = text or ""
    wanted = sorted({t for t in terms if t}, key=len, reverse=True)
    if not wanted:
        return escape(text)
    pattern = re.compile("|".join(re.escape(t) for t in wanted))
    out, last = [], 0
    for m in pattern.finditer(text):
        out.append(escape(text[last:m.start()]))
        out.append(Markup("<mark>%s</mark>") % m.group(0))
        last = m.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def web_link(url: str | None) -> str | None:
    """Only http(s) links become hrefs: a crawled ``javascript:`` URL stays text."""
    return url if url and url.lower().startswith(("http://", "https://")) else None


def local_iso(value: object) -> str:
    """An ISO time from a manifest, in Beijing time; the raw text if it is not one."""
    try:
        return local(datetime.fromisoformat(str(value)), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return str(value)


def step_note(entry: AuditEntry) -> str:
    """What an audit entry adds beyond its action: department, grade change, reply, report, note."""
    detail = entry.detail or {}
    parts = []
    if entry.action == "dispatch" and detail.get("department"):
        parts.append(f"交办 {detail['department']}")
    if entry.action == "dispatch" and detail.get("due"):
        parts.append(f"期限 {local_iso(detail['due'])[:16]}")
    if detail.get("grade") and entry.action == "grade":
        parts.append(f"等级 {detail.get('from_grade')} → {detail['grade']}")
    if detail.get("text"):
        parts.append(f"反馈：{detail['text']}")
    if detail.get("report"):
        parts.append(f"结案：{detail['report']}")
    if entry.note:
        parts.append(f"说明：{entry.note}")
    return "；".join(parts)


def iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat() if moment else ""


def install(env: jinja2.Environment) -> None:
    env.filters.update(local=local, countdown=countdown, highlight=highlight, iso=iso, web_link=web_link, local_iso=local_iso, step_note=step_note,
                       state=lambda s: STATE_LABELS.get(s, s), role=lambda r: ROLE_LABELS.get(r, r),
                       action=lambda a: ACTION_LABELS.get(a, a), state_label=state_label,
                       deadline=lambda k: LABELS.get(k, k))
