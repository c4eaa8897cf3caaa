"""The triage lifecycle (DESIGN §7) as a table, and ``apply`` which enforces it.

    待研判 new ─assess→ 研判中 assessing ─false_positive→ 误报 false_positive (closed)
                                          └─report→ 已上报 reported ─dispatch→ 已交办 dispatched
                                                    ─reply→ 已反馈 replied ─close→ 已结案 closed

``grade`` (一般/重大) and ``emergency`` (phone first, then paper) record facts on an open case
without moving it. Each action lists the states it starts from, the roles that may take it and
the fields it needs; ``check`` is the pure decision, ``apply`` writes the result and its audit
entry in one transaction, so a refused request leaves no trace and an accepted one always does.
States are English identifiers in the database and Chinese labels on screen.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, get_args

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.config import Grade
from alerts.deadlines import CHINA, Deadlines, DeadlineSettings, deadlines_for
from alerts.people import ROLE_LABELS
from crawler.dedup import sketch
from storage import workflow as store

STATE_LABELS = MappingProxyType({
    "new": "待研判",
    "assessing": "研判中",
    "false_positive": "误报",
    "reported": "已上报",
    "dispatched": "已交办",
    "replied": "已反馈",
    "closed": "已结案",
})
STATES = tuple(STATE_LABELS)
OPEN_STATES = frozenset(STATES) - {"false_positive", "closed"}
GRADES: tuple[str, ...] = get_args(Grade)

_STAFF = frozenset({"admin", "operator"})


@dataclass(frozen=True)
class Rule:
    label: str
    sources: frozenset[str]  # states the action may start from
    target: str | None  # None: the state stays
    roles: frozenset[str]
    needs: tuple[str, ...] = ()  # fields of Request that must be given


RULES = MappingProxyType({
    "assess": Rule("开始研判", frozenset({"new"}), "assessing", _STAFF),
    "false_positive": Rule("判定误报", frozenset({"assessing"}), "false_positive", _STAFF),
    "report": Rule("上报领导", frozenset({"assessing"}), "reported", _STAFF),
    "dispatch": Rule("交办", frozenset({"reported"}), "dispatched", _STAFF | {"leader"}, ("department", "due")),
    "reply": Rule("反馈处置结果", frozenset({"dispatched"}), "replied", _STAFF | {"department"}, ("text",)),
    "close": Rule("结案", frozenset({"replied"}), "closed", _STAFF | {"leader"}, ("report",)),
    "grade": Rule("定级", OPEN_STATES, None, _STAFF | {"leader"}, ("grade",)),
    "emergency": Rule("标记紧急（先电话报告）", OPEN_STATES, None, _STAFF | {"leader"}, ("note",)),
})

FIELD_LABELS = MappingProxyType({
    "department": "责任部门 --dept",
    "due": "办理期限 --due",
    "text": "反馈内容 --text",
    "report": "结案报告 --report",
    "grade": "等级（一般/重大）",
    "note": "说明 --note（如电话报告了谁、几点）",
})


_INPUTS = ("grade", "department", "due", "text", "report")  # what only some actions take; a note fits any


class WorkflowError(Exception):
    """A request the workflow refuses; the message tells the person what to do instead."""


@dataclass(frozen=True)
class Request:
    action: str
    note: str | None = None
    grade: str | None = None
    department: str | None = None
    due: datetime | None = None
    text: str | None = None
    report: str | None = None


@dataclass(frozen=True)
class Outcome:
    alert_id: int
    action: str
    from_state: str
    to_state: str
    seq: int  # the audit entry


def allowed_actions(state: str, role: str | None = None) -> list[str]:
    """Actions possible in ``state`` (for ``role``, when given), in table order."""
    return [a for a, rule in RULES.items() if state in rule.sources and (role is None or role in rule.roles)]


def _given(value: object) -> bool:
    return value is not None and (not isinstance(value, str) or bool(value.strip()))


def check(case: store.Case, actor: store.Person, request: Request, now: datetime) -> str:
    """The state after ``request``, or WorkflowError saying why it is refused."""
    rule = RULES.get(request.action)
    if rule is None:
        raise WorkflowError(f"未知操作 {request.action!r}，可选：{'、'.join(RULES)} (unknown action)")
    if case.copy_of is not None:
        raise WorkflowError(f"告警 {case.alert_id} 是事件 {case.incident_id} 的转载，随主告警 {case.copy_of} 一并处置；"
                            f"如不是同一事件，先拆分：yuqing incidents split {case.alert_id} "
                            f"(alert {case.alert_id} is a repost: act on alert {case.copy_of}, or split it off)")
    who = f"用户「{actor.name}」（{ROLE_LABELS.get(actor.role, actor.role)}）"
    if actor.role not in rule.roles:
        raise WorkflowError(f"{who}无权{rule.label} (role {actor.role} may not {request.action})")
    if actor.role == "department" and (case.department_id is None or case.department_id != actor.department_id):
        raise WorkflowError(f"{who}只能处理交办给本部门（{actor.department}）的告警，告警 {case.alert_id} "
                            f"{'交办给「' + case.department + '」' if case.department else '未交办给本部门'} "
                            "(department users act only on alerts dispatched to their own department)")
    if case.state not in rule.sources:
        possible = "、".join(f"{RULES[a].label}（{a}）" for a in allowed_actions(case.state)) or "无（已结束）"
        raise WorkflowError(f"告警 {case.alert_id} 当前为「{STATE_LABELS[case.state]}」，不能{rule.label}；此时可以："
                            f"{possible} (alert {case.alert_id} is {case.state}: {request.action} not allowed)")
    missing = [FIELD_LABELS[name] for name in rule.needs if not _given(getattr(request, name))]
    if missing:
        raise WorkflowError(f"{rule.label}需要填写：{'、'.join(missing)} ({request.action} needs more input)")
    unused = [FIELD_LABELS[name] for name in _INPUTS if getattr(request, name) is not None and name not in rule.needs]
    if unused:
        raise WorkflowError(f"{rule.label}不使用：{'、'.join(unused)} ({request.action} takes no such input)")
    if request.grade is not None:
        if request.grade not in GRADES:
            raise WorkflowError(f"等级应为 {' 或 '.join(GRADES)}，不是 {request.grade!r} (unknown grade)")
        if request.grade == case.grade:
            raise WorkflowError(f"告警 {case.alert_id} 已是「{case.grade}」(grade unchanged)")
    if request.due is not None and request.due <= now:
        raise WorkflowError(f"办理期限 {request.due.astimezone(CHINA):%Y-%m-%d %H:%M} 已过 (due time is in the past)")
    return rule.target or case.state


def case_deadlines(case: store.Case, settings: DeadlineSettings) -> Deadlines:
    """The stored deadlines; for an alert the workflow has not touched yet, computed from its grade."""
    if case.due["form"] is None:
        return replace(deadlines_for(case.grade, case.found_at, settings), reply=case.due["reply"])
    return Deadlines(**case.due)


async def apply(session: AsyncSession, alert_id: int, actor: str, request: Request, *, settings: DeadlineSettings,
                now: datetime | None = None) -> Outcome:
    """Check ``request`` by ``actor`` (a user name) and record it with its audit entry, atomically.

    Raises WorkflowError or storage's NotFound, having written nothing. The deadlines are stored
    the first time the workflow sees an alert and recomputed when its grade changes (the clock
    still runs from discovery); the department's reply deadline comes from the dispatch.
    """
    now = now or datetime.now(timezone.utc)
    async with store.write_transaction(session):
        case = await store.load_case(session, alert_id, lock=True)
        person = await store.find_user(session, actor)
        target = check(case, person, request, now)
        deadlines = case_deadlines(case, settings)
        if request.grade:
            deadlines = replace(deadlines_for(request.grade, case.found_at, settings), reply=deadlines.reply)
        due = asdict(deadlines)
        change: dict[str, Any] = {"state": target, "grade": request.grade}
        detail: dict[str, Any] = {}
        if request.action == "grade":
            detail = {"from_grade": case.grade, "grade": request.grade}
        elif request.action == "dispatch":
            assert request.department is not None and request.due is not None  # check() demands both
            department = await store.find_department(session, request.department.strip())
            change["department_id"] = department.department_id
            due["reply"] = request.due
            detail = {"department": department.name, "due": request.due.astimezone(timezone.utc).isoformat()}
        elif request.action == "reply":
            change["reply_text"] = (request.text or "").strip()
            detail = {"text": change["reply_text"]}
        elif request.action == "close":
            change["closing_report"] = (request.report or "").strip()
            detail = {"report": change["closing_report"]}
        elif request.action == "emergency" and not case.emergency:  # the first call is when it became one
            change.update(emergency_at=now, emergency_by=person.name)
        changed_due = {kind: at for kind, at in due.items() if at != case.due[kind]}
        await store.update_case(session, alert_id, store.CaseUpdate(**change, due=changed_due))
        entry = await store.append_audit(
            session, at=now, actor=person.name, alert_id=alert_id, action=request.action, from_state=case.state,
            to_state=target, note=(request.note or "").strip() or None, detail=detail or None)
    return Outcome(alert_id, request.action, case.state, target, entry.seq)


async def split(session: AsyncSession, alert_id: int, actor: str, *, note: str | None = None,
                now: datetime | None = None) -> Outcome:
    """Undo a wrong fold: the repost ``alert_id`` becomes the primary case of an incident of its
    own, audited in the same transaction. Its deadlines run from its own discovery."""
    now = now or datetime.now(timezone.utc)
    async with store.write_transaction(session):
        case = await store.load_case(session, alert_id, lock=True)
        person = await store.find_user(session, actor)
        if person.role not in _STAFF:
            raise WorkflowError(f"用户「{person.name}」（{ROLE_LABELS.get(person.role, person.role)}）无权拆分事件 "
                                "(only admins and operators split incidents)")
        if case.copy_of is None:
            raise WorkflowError(f"告警 {alert_id} 不是转载，无需拆分 (alert {alert_id} is not a repost)")
        text = (await store.load_case_file(session, alert_id)).text
        incident = await store.split_incident(session, alert_id, sketch=sketch(f"{case.title}\n{text}"), now=now)
        entry = await store.append_audit(
            session, at=now, actor=person.name, alert_id=alert_id, action="split", from_state=case.state,
            to_state=case.state, note=(note or "").strip() or None,
            detail={"from_incident": case.incident_id, "incident": incident, "primary_was": case.copy_of})
    return Outcome(alert_id, "split", case.state, case.state, entry.seq)
