"""The triage workflow on SQLite and PostgreSQL: a full case, refusals that leave no trace, roles."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from cases import SETTINGS, T0, Sessions, act, case, history, seed_alerts, seed_people

from alerts import audit
from alerts.deadlines import CHINA, overdue
from alerts.people import add_department, add_user, verify_password
from alerts.workflow import RULES, STATES, Request, WorkflowError, case_deadlines
from storage import workflow as store


async def test_a_major_case_from_discovery_to_closing(sessions: Sessions) -> None:
    await seed_people(sessions)
    (alert_id,) = await seed_alerts(sessions)
    m = timedelta(minutes=1)
    assert await act(sessions, alert_id, "小李", Request("assess", note="核实来源"), T0 + 10 * m) == "assessing"
    assert await act(sessions, alert_id, "小李", Request("emergency", note="15:20 电话报告王校长"), T0 + 20 * m) == "assessing"
    assert await act(sessions, alert_id, "小李", Request("report"), T0 + 60 * m) == "reported"
    due = T0 + timedelta(hours=20)
    assert await act(sessions, alert_id, "王校长", Request("dispatch", department="保教处", due=due), T0 + 70 * m) == "dispatched"
    assert await act(sessions, alert_id, "保教处张", Request("reply", text="已约谈食堂负责人，送检留样"), T0 + 600 * m) == "replied"
    assert await act(sessions, alert_id, "小李", Request("close", report="经检测非食物中毒，已向家长说明"),
                     T0 + 900 * m) == "closed"

    c = await case(sessions, alert_id)
    assert (c.state, c.department, c.emergency, c.emergency_by, c.emergency_at) == (
        "closed", "保教处", True, "小李", T0 + 20 * m)
    assert (c.reply_text, c.closing_report) == ("已约谈食堂负责人，送检留样", "经检测非食物中毒，已向家长说明")
    assert c.due["report"] == T0 + timedelta(hours=2) and c.due["reply"] == due
    assert c.due["form"] == datetime(2026, 10, 8, 15, 0, tzinfo=CHINA)
    assert overdue(c.state, case_deadlines(c, SETTINGS), T0 + timedelta(days=10)) == []

    steps = await history(sessions, alert_id)
    assert [(e.action, e.from_state, e.to_state, e.actor) for e in steps] == [
        ("assess", "new", "assessing", "小李"), ("emergency", "assessing", "assessing", "小李"),
        ("report", "assessing", "reported", "小李"), ("dispatch", "reported", "dispatched", "王校长"),
        ("reply", "dispatched", "replied", "保教处张"), ("close", "replied", "closed", "小李")]
    assert steps[0].note == "核实来源" and steps[3].detail == {"department": "保教处", "due": due.isoformat()}
    assert steps[4].detail == {"text": "已约谈食堂负责人，送检留样"}
    async with sessions() as s:
        verdict = await audit.verify(s)
    assert verdict.ok and verdict.count == 2 + 6 + 6 and verdict.head == steps[-1].hash


async def refused(sessions: Sessions, alert_id: int, actor: str, request: Request, match: str) -> None:
    """The request is refused with ``match`` in the message, and nothing at all was written."""
    before_case, before_log = await case(sessions, alert_id), await history(sessions)
    with pytest.raises((WorkflowError, store.NotFound), match=match):
        await act(sessions, alert_id, actor, request, T0 + timedelta(minutes=30))
    assert await case(sessions, alert_id) == before_case
    assert await history(sessions) == before_log


async def test_illegal_transitions_are_refused_and_leave_no_trace(sessions: Sessions) -> None:
    await seed_people(sessions)
    a, b = await seed_alerts(sessions, 2)
    await refused(sessions, a, "小李", Request("report"), "当前为「待研判」，不能上报领导")
    await refused(sessions, a, "小李", Request("close", report="x"), "不能结案")
    await refused(sessions, a, "小李", Request("publish"), "未知操作")
    await refused(sessions, a, "无名氏", Request("assess"), "用户「无名氏」不存在")
    with pytest.raises(store.NotFound, match="告警 999 不存在"):
        await act(sessions, 999, "小李", Request("assess"), T0)
    await refused(sessions, a, "信息员陈", Request("assess"), "信息员）无权开始研判")
    await refused(sessions, a, "王校长", Request("assess"), "领导）无权开始研判")
    await refused(sessions, a, "小李", Request("grade", grade="重大"), "已是「重大」")
    await refused(sessions, a, "小李", Request("grade", grade="特大"), "等级应为")
    await refused(sessions, a, "小李", Request("emergency", note="  "), "需要填写：说明")
    await refused(sessions, a, "小李", Request("assess", grade="一般"), "开始研判不使用：等级")
    await act(sessions, a, "小李", Request("assess"), T0)
    await act(sessions, a, "小李", Request("report"), T0)
    await refused(sessions, a, "小李", Request("dispatch", department="保教处"), "需要填写：办理期限")
    await refused(sessions, a, "小李", Request("dispatch", department="宣传部", due=T0 + timedelta(days=1)),
                  "部门「宣传部」不存在")
    await refused(sessions, a, "小李", Request("dispatch", department="保教处", due=T0), "已过")
    await refused(sessions, a, "小李", Request("reply", text="x"), "当前为「已上报」，不能反馈处置结果")
    await act(sessions, b, "小李", Request("assess"), T0)
    await act(sessions, b, "小李", Request("false_positive", note="同名单位，与本园无关"), T0)
    await refused(sessions, b, "小李", Request("report"), "此时可以：无（已结束）")
    await refused(sessions, b, "管理员", Request("grade", grade="一般"), "不能定级")


async def test_department_users_act_only_on_their_own_dispatched_alerts(sessions: Sessions) -> None:
    await seed_people(sessions)
    (a,) = await seed_alerts(sessions)
    await refused(sessions, a, "保教处张", Request("assess"), "责任部门）无权开始研判")
    await act(sessions, a, "小李", Request("assess"), T0)
    await act(sessions, a, "小李", Request("report"), T0)
    await refused(sessions, a, "保教处张", Request("reply", text="已处理"), "只能处理交办给本部门（保教处）的告警")
    await act(sessions, a, "小李", Request("dispatch", department="保教处", due=T0 + timedelta(days=1)), T0)
    await refused(sessions, a, "后勤处刘", Request("reply", text="已处理"), "告警 1 交办给「保教处」")
    await refused(sessions, a, "保教处张", Request("close", report="x"), "责任部门）无权结案")
    assert await act(sessions, a, "保教处张", Request("reply", text="已处理"), T0) == "replied"


async def test_regrading_recomputes_deadlines_from_discovery(sessions: Sessions) -> None:
    await seed_people(sessions)
    (a,) = await seed_alerts(sessions, grade="一般")
    async with sessions() as s:
        untouched = case_deadlines(await store.load_case(s, a), SETTINGS)  # computed, nothing stored yet
    assert untouched.dispatch == T0 + timedelta(hours=24) and (await case(sessions, a)).due["form"] is None
    await act(sessions, a, "小李", Request("assess"), T0 + timedelta(hours=1))
    assert (await case(sessions, a)).due["dispatch"] == T0 + timedelta(hours=24)
    await act(sessions, a, "王校长", Request("grade", grade="重大", note="家长聚集"), T0 + timedelta(hours=3))
    c = await case(sessions, a)
    assert c.grade == "重大" and c.due["dispatch"] is None
    assert c.due["report"] == T0 + timedelta(hours=2)  # already missed: the clock runs from discovery
    assert overdue(c.state, case_deadlines(c, SETTINGS), T0 + timedelta(hours=3)) == ["report"]
    assert (await history(sessions, a))[-1].detail == {"from_grade": "一般", "grade": "重大"}


async def test_concurrent_writers_never_fork_the_chain(sessions: Sessions) -> None:
    await seed_people(sessions)
    ids = await seed_alerts(sessions, 8)

    async def attempt(alert_id: int) -> str:
        try:
            return await act(sessions, alert_id, "小李", Request("assess"), T0)
        except WorkflowError:
            return "refused"

    results = await asyncio.gather(*(attempt(i) for i in ids + ids))  # each alert twice at once
    assert sorted(results) == ["assessing"] * 8 + ["refused"] * 8
    entries = await history(sessions)
    assert [e.seq for e in entries] == list(range(1, 8 + 8 + 1))
    async with sessions() as s:
        assert (await audit.verify(s)).ok


async def test_people_are_stored_and_audited(sessions: Sessions) -> None:
    async with sessions() as s:
        await add_department(s, name=" 保教处 ", actor="cli:root", now=T0, contacts=["王主任 13800000000", " "],
                             channels=["保教处邮箱"])
        person = await add_user(s, name="张老师", role="department", department="保教处", email="zhang@example.cn",
                                password="correct horse", actor="cli:root", now=T0)
        assert person.department == "保教处" and person.password_hash and person.password_hash.startswith("$argon2")
        assert verify_password(person.password_hash, "correct horse")
        assert not verify_password(person.password_hash, "wrong horse") and not verify_password("garbage", "x")
        for kwargs, match in ((dict(name="李", role="boss"), "未知角色"),
                              (dict(name="李", role="department"), "必须指定 --department"),
                              (dict(name="李", role="operator", email="not-an-address"), "不是有效的邮箱"),
                              (dict(name="李", role="operator", password="short"), "至少 8 位"),
                              (dict(name="张老师", role="operator"), "已存在"),
                              (dict(name="李", role="department", department="宣传部"), "不存在")):
            with pytest.raises(ValueError if "不存在" not in match else LookupError, match=match):
                await add_user(s, actor="cli:root", now=T0, **kwargs)  # type: ignore[arg-type]
        (dept,) = await store.list_departments(s)
        assert (dept.name, dept.contacts, dept.channels) == ("保教处", ["王主任 13800000000"], ["保教处邮箱"])
        assert [p.name for p in await store.list_users(s)] == ["张老师"]
        entries = [e async for e in store.audit_entries(s)]
    assert [(e.action, e.alert_id, e.actor) for e in entries] == [("department_add", None, "cli:root"),
                                                                 ("user_add", None, "cli:root")]
    assert entries[1].detail == {"name": "张老师", "role": "department", "department": "保教处",
                                 "email": "zhang@example.cn", "phone": None, "password": True}


def test_rules_name_real_states_and_roles() -> None:
    from alerts.people import ROLES

    for rule in RULES.values():
        assert rule.sources <= set(STATES) and (rule.target is None or rule.target in STATES)
        assert rule.roles <= set(ROLES)
    assert not any("informant" in rule.roles for rule in RULES.values())  # informants submit leads, not triage
