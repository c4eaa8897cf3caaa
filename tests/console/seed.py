"""A desk with people who can log in, alerts stored as the pipeline stores them (with evidence),
an incident, patrol runs with a gap, and one hostile crawled page."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.people import add_department, add_user
from alerts.workflow import Request, apply
from console.app import Desk
from console.auth import Signer, load_secret
from crawler.config.loader import Config, load_config
from crawler.types import FetchResult, Hit, Item, RunStats, TermMatch
from storage import queries
from storage.evidence import EvidenceStore
from storage.models import AlertRow, IncidentRow, UserRow

Sessions = async_sessionmaker[AsyncSession]
PASSWORD = "desk-pass-2026"
PEOPLE = (("管理员", "admin", None), ("小李", "operator", None), ("王校长", "leader", None),
          ("保教处张", "department", "保教处"), ("后勤处刘", "department", "后勤处"), ("信息员陈", "informant", None))
HOSTILE_TITLE = '<script>document.body.dataset.pwned="title"</script>家长群截图'
HOSTILE_TEXT = ('化隆二幼 收费 <img src=x onerror="document.body.dataset.pwned=\'img\'"> '
                '<script>document.body.dataset.pwned="text"</script> 点此 <a href="javascript:alert(1)">链接</a>')
SOURCES_YAML = """\
timezone: Asia/Shanghai
windows: ["09:00-10:00", "13:00-14:00", "16:00-17:00"]
sources:
  - id: county-news
    name: 化隆新闻网
    type: news
    url: http://127.0.0.1:9/news/
  - id: tieba-hualong
    name: 化隆吧
    type: tieba
    forum: 化隆
  - id: school-bbs
    name: 化隆教育论坛
    type: discuz
    url: http://127.0.0.1:9/forum-2-1.html
"""


@functools.cache
def fast_hash() -> str:
    """An argon2 hash of PASSWORD with the cheapest parameters: verify_password reads them from the hash,
    so logins in tests take milliseconds instead of a second on a busy machine."""
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)


async def seed_people(sessions: Sessions, now: datetime) -> None:
    """The people of tests/cases.py, added through alerts.people, each with a web password."""
    async with sessions() as s:
        for name in ("保教处", "后勤处"):
            await add_department(s, name=name, actor="cli:test", now=now, contacts=[f"{name}主任 0972-1234567"])
        for name, role, dept in PEOPLE:
            await add_user(s, name=name, role=role, department=dept, actor="cli:test", now=now)
        await s.execute(update(UserRow).values(password_hash=fast_hash()))
        await s.commit()


async def seed_alert(sessions: Sessions, evidence: EvidenceStore, *, url: str, title: str, text: str,
                     source_id: str = "county-news", grade: str = "重大", category: str = "安全生产",
                     rule_id: str = "food-safety", term: str = "化隆二幼", found: datetime,
                     body: bytes | None = None, page_url: str | None = None) -> int:
    """One alert with its evidence bundle, stored like the pipeline does (``page_url``: the page the
    item was read from, when the item's own URL is not an http one)."""
    raw = body if body is not None else f"<html><body><h1>{title}</h1><p>{text}</p></body></html>".encode()
    page_url = page_url or url
    result = FetchResult(url=page_url, final_url=page_url, status=200, headers=(("Content-Type", "text/html; charset=utf-8"),),
                         body=raw, text=raw.decode("utf-8", "replace"), encoding="utf-8", fetched_at=found, elapsed_ms=5)
    item = Item(url=url, source_id=source_id, title=title, text=text, fetched_at=found, author="网友甲")
    digest = evidence.save(result, [item])
    start = max(text.find(term), 0)
    snippet = text[max(start - 10, 0): start + 40]
    hit = Hit(rule_id, category, grade, (TermMatch(term, "text", start, start + len(term)),), snippet)
    async with sessions() as s:
        stored = await queries.store_item(s, item, [hit], now=found, channels_for=lambda g: [], body_sha256=digest)
    assert stored is not None
    return stored.alert_ids[0]


@dataclass
class Scene:
    major: int  # a 重大 alert, new
    ordinary: int
    hostile: int
    reposts: list[int]
    others: list[int]  # 一般, distinct stories, new


async def seed_scene(sessions: Sessions, evidence: EvidenceStore, now: datetime) -> Scene:
    """A few days of a small county's monitoring: enough to fill every page."""
    day = timedelta(days=1)
    major = await seed_alert(sessions, evidence, url="http://127.0.0.1:9/news/1.html", title="化隆二幼多名幼儿午餐后呕吐",
                             text="有家长反映，化隆二幼多名幼儿午餐后出现呕吐症状，已送医观察，家长质疑食堂卫生。",
                             found=now - timedelta(minutes=50))
    ordinary = await seed_alert(sessions, evidence, url="http://127.0.0.1:9/bbs/t-88.html", title="县二幼兴趣班乱收费？",
                                text="有家长在论坛反映县二幼存在乱收费问题，要求退还兴趣班费用。", source_id="school-bbs",
                                grade="一般", category="损害单位声誉", rule_id="fees", term="乱收费", found=now - 2 * day)
    hostile = await seed_alert(sessions, evidence, url="javascript:alert(document.cookie)//x", title=HOSTILE_TITLE,
                               text=HOSTILE_TEXT, source_id="tieba-hualong", grade="一般", category="损害单位声誉",
                               rule_id="fees", term="收费", found=now - 3 * day,
                               body=f"<html><script>alert('archived')</script>{HOSTILE_TEXT}</html>".encode(),
                               page_url="http://127.0.0.1:9/tieba/p/666")
    reposts = []
    for i, (source, hours) in enumerate((("tieba-hualong", 20), ("school-bbs", 30), ("county-news", 44))):
        reposts.append(await seed_alert(
            sessions, evidence, url=f"http://127.0.0.1:9/repost/{i}.html", title=f"转：化隆二幼幼儿呕吐事件（{i + 1}）",
            text="转载：化隆二幼多名幼儿午餐后出现呕吐症状，家长聚集。", source_id=source,
            found=now - timedelta(hours=hours)))
    others = []
    topics = ("招生政策", "校车路线调整", "午休安排", "教师招聘公告", "操场改造工程", "家长开放日")
    for i, topic in enumerate(topics):
        others.append(await seed_alert(
                         sessions, evidence, url=f"http://127.0.0.1:9/more/{i}.html", title=f"县二幼相关讨论 {i + 1}",
                         text=f"网友在第{i + 1}个帖子里讨论化隆二幼的{topic}，意见不一。", source_id=("county-news", "tieba-hualong")[i % 2],
                         grade="一般", category=("损害单位声誉", "谣言")[i % 2], rule_id="fees", term="化隆二幼",
                         found=now - timedelta(days=i % 5, hours=3)))
    async with sessions() as s:
        incident = IncidentRow(primary_alert_id=reposts[-1], title="化隆二幼幼儿呕吐事件", sketch=[],
                               created_at=now - timedelta(hours=44))
        s.add(incident)
        await s.flush()
        await s.execute(update(AlertRow).where(AlertRow.id.in_(reposts)).values(incident_id=incident.id))
        await s.commit()
    return Scene(major, ordinary, hostile, reposts, others)


async def seed_runs(sessions: Sessions, config: Config, now: datetime, days: int = 3) -> None:
    """Finished runs for every past window of the last days except one (the gap the ledger must show)."""
    skipped = False
    async with sessions() as s:
        for source in config.enabled_sources():
            schedule = config.sources.schedule(source)
            local = now.astimezone(schedule.tz).date()
            for back in range(days):
                for window in schedule.windows:
                    start = datetime.combine(local - timedelta(days=back), window.start, tzinfo=schedule.tz)
                    if start + window.duration() > now:
                        continue
                    if not skipped and source.id == "school-bbs" and back == 1:
                        skipped = True
                        continue
                    run_id = await queries.start_run(s, source.id, "window", start + timedelta(seconds=20),
                                                     start, start + window.duration())
                    stats = RunStats(fetched=12, failed=0 if source.id != "tieba-hualong" else 1, items=30,
                                     new_items=4, hits=1 if back == 0 else 0,
                                     errors=["验证页 verification wall"] if source.id == "tieba-hualong" else [])
                    await queries.finish_run(s, run_id, stats, "ok" if not stats.errors else "partial",
                                             start + timedelta(minutes=3))


def write_config(folder: Path) -> Config:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sources.yaml").write_text(SOURCES_YAML, encoding="utf-8")
    (folder / "keywords").mkdir(exist_ok=True)
    (folder / "keywords" / "institution.yaml").write_text("group: 本单位\nterms: [化隆二幼, 县二幼]\n", encoding="utf-8")
    return load_config(folder)


async def act_as(desk: Desk, alert_id: int, actor: str, *requests: Request) -> None:
    """Workflow steps through alerts.workflow.apply, as the CLI takes them; a dispatch without a due gets 24 h."""
    for request in requests:
        if request.action == "dispatch" and request.due is None:
            request = replace(request, due=utcnow() + timedelta(hours=24))
        async with desk.sessions() as session:
            await apply(session, alert_id, actor, request, settings=desk.deadlines())


def make_desk(sessions: Sessions, data_dir: Path, config: Config | None = None) -> Desk:
    return Desk(sessions, data_dir, lambda: config, Signer(load_secret(data_dir)))


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "page has no CSRF field"
    return found.group(1)


async def login(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns a CSRF token for later posts."""
    page = await client.get("/login")
    token = csrf_of(await page.text())
    answer = await client.post("/login", data={"name": name, "password": password, "csrf": token, "next": "/"},
                               allow_redirects=False)
    assert answer.status == 303, await answer.text()
    return token


def utcnow() -> datetime:
    return datetime.now(UTC)
