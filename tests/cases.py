"""A seeded triage case: alerts stored the way the pipeline stores them, people, and actions."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.deadlines import DeadlineSettings
from alerts.people import add_department, add_user
from alerts.workflow import Request, apply
from crawler.types import Hit, Item, TermMatch
from storage import queries
from storage import workflow as store

T0 = datetime(2026, 9, 30, 7, 0, tzinfo=timezone.utc)  # 15:00 in Beijing, the day before 国庆
SETTINGS = DeadlineSettings()
Sessions = async_sessionmaker[AsyncSession]


async def seed_alerts(sessions: Sessions, n: int = 1, grade: str = "重大", found: datetime = T0) -> list[int]:
    ids: list[int] = []
    for i in range(n):
        item = Item(url=f"http://news.example.cn/{grade}/{i}.html", source_id="county-news",
                    title=f"化隆二幼多名幼儿呕吐 {i}", text="化隆二幼多名幼儿呕吐，家长质疑食堂", fetched_at=found)
        hit = Hit("food-safety", "安全生产", grade, (TermMatch("化隆二幼", "text", 0, 4),), "【化隆二幼】多名幼儿呕吐")
        async with sessions() as s:
            stored = await queries.store_item(s, item, [hit], now=found, channels_for=lambda g: [])
        assert stored is not None
        ids += stored.alert_ids
    return ids


async def seed_people(sessions: Sessions) -> None:
    async with sessions() as s:
        for name in ("保教处", "后勤处"):
            await add_department(s, name=name, actor="cli:test", now=T0, contacts=[f"{name}主任 0972-1234567"])
        for name, role, dept in (("管理员", "admin", None), ("小李", "operator", None), ("王校长", "leader", None),
                                 ("保教处张", "department", "保教处"), ("后勤处刘", "department", "后勤处"),
                                 ("信息员陈", "informant", None)):
            await add_user(s, name=name, role=role, department=dept, actor="cli:test", now=T0)


async def act(sessions: Sessions, alert_id: int, actor: str, request: Request, at: datetime) -> str:
    async with sessions() as s:
        return (await apply(s, alert_id, actor, request, settings=SETTINGS, now=at)).to_state


async def case(sessions: Sessions, alert_id: int) -> store.Case:
    async with sessions() as s:
        return await store.load_case(s, alert_id)


async def history(sessions: Sessions, alert_id: int | None = None) -> list[store.AuditEntry]:
    async with sessions() as s:
        return [e async for e in store.audit_entries(s, alert_id)]
