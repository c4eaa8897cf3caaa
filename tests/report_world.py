"""A month of generated data for the report tests (tests/alerts/reports): runs of every patrol window (with a gap, an
interrupted run and a dead source), alerts stored the way the pipeline stores them, cases worked
through the workflow (closed on time, replied late, overdue, 误报), informant leads, an incident
with reposts across sites, a duty roster — on SQLite and PostgreSQL. Helpers read reports back."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import docx
import openpyxl
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.deadlines import DeadlineSettings
from alerts.leads import submit_lead
from alerts.people import add_department, add_user
from alerts.reports.ledger import SourceInfo
from alerts.reports.periodic import ReportContext
from alerts.reports.roster import set_duty
from alerts.workflow import Request, apply
from crawler.schedule.windows import PatrolSchedule, Window
from crawler.types import Hit, Item, RunStats, TermMatch
from storage import queries
from storage.models import AlertRow, IncidentRow

CN = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 10, 27, 10, 0, tzinfo=CN)  # the reports are made the next morning
SETTINGS = DeadlineSettings()
SOURCES = ("county-news", "county-rss", "dead-site")
NAMES = {"county-news": "化隆新闻网", "county-rss": "化隆新闻 RSS", "dead-site": "已关闭的网站"}
WINDOWS = ("13:00-14:00", "16:00-17:00")
LEDGER_DAYS = (date(2026, 10, 24), date(2026, 10, 25), date(2026, 10, 26))
GAP = (date(2026, 10, 26), "16:00-17:00", "county-rss")  # no run at all: the daemon was down
ABORTED = (date(2026, 10, 25), "13:00-14:00", "county-news")  # a run killed mid-way: also a gap
STORY = "化隆二幼多名幼儿午餐后出现呕吐症状，已送医观察，家长质疑食堂卫生，园方称正在调查原因并将公布结果。"

Sessions = async_sessionmaker[AsyncSession]


def at(day: date, hhmm: str) -> datetime:
    h, m = (int(x) for x in hhmm.split(":"))
    return datetime(day.year, day.month, day.day, h, m, tzinfo=CN)


def sources_info() -> tuple[SourceInfo, ...]:
    schedule = PatrolSchedule(tuple(Window.parse(w) for w in WINDOWS), 900.0, CN)
    return tuple(SourceInfo(s, NAMES[s], schedule) for s in SOURCES)


def context(institution: str = "化隆县第二幼儿园") -> ReportContext:
    return ReportContext(institution, sources_info(), SETTINGS, NOW.astimezone(timezone.utc))


@dataclass
class World:
    sessions: Sessions
    url: str
    alerts: dict[str, int] = field(default_factory=dict)  # name → alert id
    incident_id: int = 0
    runs: dict[tuple[date, str, str], int] = field(default_factory=dict)

    async def sql(self, query: str, **params: object) -> list[tuple]:
        """Independent counts: plain SQL over the same tables (naive UTC datetimes in the columns)."""
        bound = {k: v.astimezone(timezone.utc).replace(tzinfo=None) if isinstance(v, datetime) else v
                 for k, v in params.items()}
        async with self.sessions() as s:
            return [tuple(row) for row in (await s.execute(text(query), bound)).all()]


async def _run(sessions: Sessions, source: str, day: date, window: str, status: str, *, items: int = 5,
               new: int = 2, hits: int = 0, error: str | None = None) -> int:
    start, end = (at(day, w) for w in window.split("-"))
    async with sessions() as s:
        run_id = await queries.start_run(s, source, "window", start + timedelta(seconds=20), start, end)
        if status == "aborted":
            await queries.abort_stale_runs(s, start + timedelta(minutes=3))
        else:
            stats = RunStats(fetched=items if status != "failed" else 0, failed=1 if status == "failed" else 0,
                             items=items if status != "failed" else 0, new_items=new if status != "failed" else 0,
                             hits=hits, errors=[error] if error else [])
            await queries.finish_run(s, run_id, stats, status, start + timedelta(minutes=2))
    return run_id


async def _alert(sessions: Sessions, *, url: str, source: str, title: str, body: str, category: str, grade: str,
                 found: datetime, run_id: int | None) -> int:
    item = Item(url=url, source_id=source, title=title, text=body, fetched_at=found)
    hit = Hit(f"rule-{category}", category, grade, (TermMatch("化隆二幼", "text", 0, 4),), body[:40])
    async with sessions() as s:
        stored = await queries.store_item(s, item, [hit], now=found, channels_for=lambda g: [], run_id=run_id)
    assert stored is not None and len(stored.alert_ids) == 1
    return stored.alert_ids[0]


async def _act(sessions: Sessions, alert_id: int, actor: str, when: datetime, action: str, **kw: object) -> None:
    async with sessions() as s:
        await apply(s, alert_id, actor, Request(action, **kw), settings=SETTINGS, now=when)  # type: ignore[arg-type]


async def build_world(sessions: Sessions, url: str, tmp: Path) -> World:
    w = World(sessions, url)
    t0 = datetime(2026, 8, 27, tzinfo=CN)
    async with sessions() as s:
        for name in ("保教处", "后勤处"):
            await add_department(s, name=name, actor="cli:test", now=t0, contacts=[f"{name}主任 0972-1234567"])
        for name, role, dept, mail in (("小李", "operator", None, "xiaoli@localhost"), ("小王", "operator", None, None),
                                       ("王校长", "leader", None, None), ("保教处张", "department", "保教处", None),
                                       ("后勤处刘", "department", "后勤处", None), ("信息员陈", "informant", None, None)):
            await add_user(s, name=name, role=role, department=dept, email=mail, actor="cli:test", now=t0)
        await set_duty(s, "2026-10", "*", "小李", t0)
        await set_duty(s, "2026-10", "16:00-17:00", "小王", t0)
        await set_duty(s, "2026-09", "*", "小王", t0)

    # the patrol ledger: every window of three days, with a gap, an interrupted run, a dead source
    for day in LEDGER_DAYS:
        for window in WINDOWS:
            for source in SOURCES:
                key = (day, window, source)
                if key == GAP:
                    continue
                if source == "dead-site":
                    w.runs[key] = await _run(sessions, source, day, window, "failed",
                                             error="无法连接 127.0.0.1:9 (connection refused)")
                elif key == ABORTED:
                    w.runs[key] = await _run(sessions, source, day, window, "aborted")
                else:
                    w.runs[key] = await _run(sessions, source, day, window, "ok", hits=1 if window == WINDOWS[0] else 0)

    d28, d29, d30 = LEDGER_DAYS
    news = "http://news.example.cn"
    a = w.alerts
    a["food"] = await _alert(sessions, url=f"{news}/1.html", source="county-news", title="幼儿园午餐后多名幼儿不适",
                             body=STORY, category="安全生产", grade="重大", found=at(d30, "13:05"),
                             run_id=w.runs[(d30, "13:00-14:00", "county-news")])
    a["food-copy"] = await _alert(sessions, url="http://rss.example.cn/a.html", source="county-rss",
                                  title="转：幼儿园午餐后多名幼儿不适", body=STORY, category="安全生产", grade="重大",
                                  found=at(d30, "13:10"), run_id=w.runs[(d30, "13:00-14:00", "county-rss")])
    a["food-late-copy"] = await _alert(sessions, url=f"{news}/9.html", source="county-news",
                                       title="再转：幼儿园午餐后幼儿不适", body=STORY, category="安全生产", grade="重大",
                                       found=at(date(2026, 10, 27), "09:00"), run_id=None)
    a["fees"] = await _alert(sessions, url=f"{news}/2.html", source="county-news", title="家长反映县二幼乱收费",
                             body="有家长反映县二幼存在乱收费问题，要求退还兴趣班费用，并称已向教育局反映。",
                             category="损害单位声誉", grade="一般", found=at(d30, "16:20"),
                             run_id=w.runs[(d30, "16:00-17:00", "county-news")])
    a["rumour"] = await _alert(sessions, url="http://rss.example.cn/b.html", source="county-rss",
                               title="网传县二幼将停办", body="网传县二幼明年将停止招生并停办，家长纷纷询问，园方尚未回应此事。",
                               category="谣言", grade="一般", found=at(d30, "13:30"),
                               run_id=w.runs[(d30, "13:00-14:00", "county-rss")])
    a["open"] = await _alert(sessions, url=f"{news}/3.html", source="county-news", title="县二幼门口交通拥堵",
                             body="每天放学时县二幼门口车辆拥堵，存在安全隐患，附近居民希望有关部门加强疏导管理。",
                             category="安全生产", grade="一般", found=at(d29, "16:10"),
                             run_id=w.runs[(d29, "16:00-17:00", "county-news")])
    a["late"] = await _alert(sessions, url="http://rss.example.cn/c.html", source="county-rss",
                             title="县二幼收取资料费引质疑", body="有家长质疑县二幼收取资料费标准不透明，希望公开收费明细和依据文件。",
                             category="损害单位声誉", grade="一般", found=at(d28, "13:20"),
                             run_id=w.runs[(d28, "13:00-14:00", "county-rss")])
    a["major"] = await _alert(sessions, url=f"{news}/4.html", source="county-news", title="县二幼围墙出现裂缝",
                              body="县二幼东侧围墙出现明显裂缝，家长担心倒塌伤及幼儿，要求尽快检修加固并设置警示。",
                              category="安全生产", grade="重大", found=at(date(2026, 10, 21), "13:15"), run_id=None)
    a["env"] = await _alert(sessions, url="http://rss.example.cn/d.html", source="county-rss",
                            title="县二幼附近工地扬尘", body="县二幼附近建筑工地扬尘严重，家长担心影响幼儿健康，希望环保部门督促整改。",
                            category="环境污染", grade="一般", found=at(date(2026, 10, 1), "16:30"), run_id=None)
    a["oct1"] = await _alert(sessions, url=f"{news}/5.html", source="county-news", title="县二幼食堂整改",
                             body="县二幼食堂按照检查意见完成整改，家长代表参观了后厨，对卫生状况表示满意和认可。",
                             category="安全生产", grade="一般", found=at(date(2026, 9, 5), "13:10"), run_id=None)
    a["oct2"] = await _alert(sessions, url="http://rss.example.cn/e.html", source="county-rss",
                             title="县二幼教师被指体罚", body="网帖称县二幼一名教师体罚幼儿，园方表示正在核实，将依规严肃处理并通报。",
                             category="损害单位声誉", grade="一般", found=at(date(2026, 9, 15), "16:05"), run_id=None)

    # the incident: three copies of one story (the crawler folds reposts itself where it can)
    async with sessions() as s:
        ids = [a["food"], a["food-copy"], a["food-late-copy"]]
        found = set((await s.scalars(select(AlertRow.incident_id).where(AlertRow.id.in_(ids)))).all())
        if len(found) == 1 and None not in found:
            w.incident_id = found.pop()
        else:
            row = IncidentRow(primary_alert_id=a["food"], title="幼儿园午餐后多名幼儿不适", sketch=[],
                              created_at=at(d30, "13:05"))
            s.add(row)
            await s.flush()
            await s.execute(update(AlertRow).where(AlertRow.id.in_(ids)).values(incident_id=row.id))
            w.incident_id = row.id
        await s.commit()

    # leads from an informant (QQ groups cannot be crawled)
    async with sessions() as s:
        a["lead1"] = await submit_lead(s, informant="信息员陈", text="家长QQ群里说县二幼午睡室太冷，多名幼儿感冒。",
                                       now=at(date(2026, 10, 20), "10:00"), screenshots_dir=tmp / "leads",
                                       channels_for=lambda g: [])
    async with sessions() as s:
        a["lead2"] = await submit_lead(s, informant="信息员陈", text="微信群转发县二幼招生政策变化的截图，真假不明。",
                                       now=at(date(2026, 10, 22), "11:00"), screenshots_dir=tmp / "leads",
                                       channels_for=lambda g: [])

    # the workflow
    assessment = "原因：午餐后多名幼儿呕吐；传播途径：新闻网首发，RSS 转载；特点：关注度高，情绪化；拟处置意见：保教处核实并公开说明"
    await _act(sessions, a["food"], "小李", at(d30, "13:20"), "assess", note=assessment)
    await _act(sessions, a["food"], "小李", at(d30, "13:40"), "report")
    await _act(sessions, a["food"], "王校长", at(d30, "14:00"), "dispatch", department="保教处", due=at(d30, "20:00"))
    await _act(sessions, a["food"], "保教处张", at(d30, "18:00"), "reply", text="已约谈食堂负责人，留样送检，结果正常")
    await _act(sessions, a["food"], "小李", at(d30, "19:00"), "close", report="检测结果正常，已在家长群说明，舆情平息")

    await _act(sessions, a["fees"], "小李", at(d30, "16:30"), "assess")
    await _act(sessions, a["fees"], "小李", at(d30, "16:40"), "report")
    await _act(sessions, a["fees"], "王校长", at(d30, "17:00"), "dispatch", department="后勤处", due=at(d30, "18:00"))

    await _act(sessions, a["rumour"], "小李", at(d30, "13:40"), "assess")
    await _act(sessions, a["rumour"], "小李", at(d30, "13:50"), "false_positive", note="旧闻，已辟谣")

    await _act(sessions, a["late"], "小李", at(d28, "13:30"), "assess")
    await _act(sessions, a["late"], "小李", at(d28, "14:00"), "report")
    await _act(sessions, a["late"], "王校长", at(d28, "15:00"), "dispatch", department="保教处", due=at(d29, "12:00"))
    await _act(sessions, a["late"], "保教处张", at(d29, "15:00"), "reply", text="已公开收费明细")
    await _act(sessions, a["late"], "小李", at(d29, "16:00"), "close", report="家长无异议")

    d25 = date(2026, 10, 21)
    await _act(sessions, a["major"], "小李", at(d25, "13:30"), "assess")
    await _act(sessions, a["major"], "小李", at(d25, "14:00"), "report")
    await _act(sessions, a["major"], "王校长", at(d25, "14:30"), "dispatch", department="后勤处", due=at(d25, "20:00"))
    await _act(sessions, a["major"], "后勤处刘", at(d25, "19:00"), "reply", text="已设置警示并安排检修")
    await _act(sessions, a["major"], "小李", at(d25, "20:00"), "close", report="围墙已加固")

    d5 = date(2026, 10, 1)
    await _act(sessions, a["env"], "小李", at(d5, "17:00"), "assess")
    await _act(sessions, a["env"], "小李", at(d5, "17:10"), "report")
    await _act(sessions, a["env"], "小李", at(d5, "17:30"), "dispatch", department="后勤处", due=at(date(2026, 10, 2), "17:00"))

    await _act(sessions, a["lead1"], "小李", at(date(2026, 10, 20), "10:30"), "assess")
    await _act(sessions, a["lead1"], "小李", at(date(2026, 10, 20), "11:00"), "report")
    await _act(sessions, a["lead2"], "小李", at(date(2026, 10, 22), "11:30"), "assess")
    await _act(sessions, a["lead2"], "小李", at(date(2026, 10, 22), "11:40"), "false_positive")

    await _act(sessions, a["oct1"], "小李", at(date(2026, 9, 5), "14:00"), "assess")
    await _act(sessions, a["oct1"], "小李", at(date(2026, 9, 5), "14:10"), "report")
    return w


# --- reading reports back ------------------------------------------------------------------------

def docx_tables(data: bytes) -> list[list[list[str]]]:
    """Every table of a .docx as rows of distinct cells' texts (a merged cell once)."""
    assert data[:2] == b"PK"
    out = []
    for table in docx.Document(io.BytesIO(data)).tables:
        rows = []
        for row in table.rows:
            cells: list[str] = []
            seen: set[int] = set()
            for cell in row.cells:
                if id(cell._tc) not in seen:
                    seen.add(id(cell._tc))
                    cells.append(cell.text)
            rows.append(cells)
        out.append(rows)
    return out


def docx_table(data: bytes, *header: str) -> list[list[str]]:
    """The body rows of the table whose header row starts with ``header``."""
    for rows in docx_tables(data):
        if rows and tuple(rows[0][:len(header)]) == header:
            return rows[1:]
    raise AssertionError(f"no table {header} in {[t[0] for t in docx_tables(data) if t]}")


def docx_text(data: bytes) -> str:
    document = docx.Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    parts += [c for t in docx_tables(data) for row in t for c in row]
    return "\n".join(parts)


def docx_images(data: bytes) -> list[bytes]:
    document = docx.Document(io.BytesIO(data))
    return [rel.target_part.blob for rel in document.part.rels.values() if "image" in rel.reltype]


def xlsx_sheet(data: bytes, name: str) -> list[list[object]]:
    """A sheet's rows (header first) as values."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert name in book.sheetnames, book.sheetnames
    return [list(row) for row in book[name].iter_rows(values_only=True)]


def by_first(rows: list[list]) -> dict[object, list]:
    return {row[0]: row[1:] for row in rows}
