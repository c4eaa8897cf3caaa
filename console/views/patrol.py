"""来源状态 and 巡查台账: the proof that every mandated window of every day was patrolled.

The ledger lays the windows each source should have been patrolled in (from ``sources.yaml``)
over the runs recorded in the ``runs`` table, so a window without a finished run shows as a gap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import aiohttp_jinja2
from aiohttp import web

from alerts.deadlines import CHINA
from console.app import desk_of
from console.auth import VIEWERS
from console.views import current_user
from crawler.config.sources import SourceSpec
from crawler.health import is_healthy
from storage import queries
from storage.models import RunRow

routes = web.RouteTableDef()
FINISHED = ("ok", "partial", "failed")
STATUS_LABELS = {"ok": "正常", "partial": "部分失败", "failed": "失败", "aborted": "中断", "running": "进行中"}


@dataclass
class Slot:
    """One window of one day for one source (``start`` None: runs outside any window, or an always-on source)."""

    source_id: str
    start: datetime | None
    end: datetime | None
    runs: list[RunRow] = field(default_factory=list)
    verdict: str = ""  # 已巡查 | 缺巡 | 未到 | 进行中 | 巡查 n 次

    def total(self, name: str) -> int:
        return sum(getattr(run, name) for run in self.runs)


@dataclass
class Day:
    day: date
    slots: list[Slot]

    @property
    def gaps(self) -> int:
        return sum(slot.verdict == "缺巡" for slot in self.slots)


def ledger(sources: list[SourceSpec], schedule_of: object, runs: list[RunRow], days: list[date],
           now: datetime) -> list[Day]:
    """Expected windows per day and source, each with its runs; leftover runs go to an extra slot."""
    by_window: dict[tuple[str, datetime], list[RunRow]] = {}
    loose: dict[tuple[date, str], list[RunRow]] = {}
    for run in runs:
        if run.window_start is not None:
            by_window.setdefault((run.source_id, run.window_start), []).append(run)
        else:
            loose.setdefault((run.started_at.astimezone(CHINA).date(), run.source_id), []).append(run)
    out = []
    for day in days:
        slots: list[Slot] = []
        for source in sources:
            schedule = schedule_of(source)  # type: ignore[operator]
            if schedule.always or day.weekday() not in schedule.weekdays:
                continue
            for window in schedule.windows:
                start = datetime.combine(day, window.start, tzinfo=schedule.tz)
                slot = Slot(source.id, start, start + window.duration(),
                            by_window.pop((source.id, start.astimezone(timezone.utc)), []))
                finished = [r for r in slot.runs if r.status in FINISHED]
                slot.verdict = ("已巡查" if finished else "未到" if start > now else
                                "进行中" if slot.end and slot.end > now else "缺巡")
                slots.append(slot)
        for (source_id, start), found in list(by_window.items()):
            if start.astimezone(CHINA).date() == day:
                slots.append(Slot(source_id, start, found[0].window_end, by_window.pop((source_id, start)), "已巡查"))
        always = {s.id for s in sources if schedule_of(s).always}  # type: ignore[operator]
        for source_id in sorted(always | {sid for (d, sid) in loose if d == day}):
            found = loose.pop((day, source_id), [])
            verdict = f"巡查 {len(found)} 次" if found else ("缺巡" if source_id in always and
                                                             datetime.combine(day, datetime.min.time(), CHINA)
                                                             + timedelta(days=1) <= now else "—")
            if found or source_id in always:
                slots.append(Slot(source_id, None, None, found, verdict))
        slots.sort(key=lambda s: (s.start is None, s.start or now, s.source_id))
        out.append(Day(day, slots))
    return out


@routes.get("/ledger")
async def patrol_ledger(request: web.Request) -> web.Response:
    current_user(request, VIEWERS)
    desk, now = desk_of(request), datetime.now(timezone.utc)
    try:
        span_days = min(max(int(request.query.get("days", "7")), 1), 62)
    except ValueError:
        span_days = 7
    today = now.astimezone(CHINA).date()
    days = [today - timedelta(days=i) for i in range(span_days)]
    since = datetime.combine(days[-1], datetime.min.time(), CHINA).astimezone(timezone.utc) - timedelta(hours=12)
    async with desk.sessions() as session:
        runs = await queries.runs_between(session, since, now + timedelta(days=1))
    config = desk.config()
    sources = config.enabled_sources() if config else []
    schedule_of = config.sources.schedule if config else None
    table = ledger(sources, schedule_of, runs, days, now)
    return aiohttp_jinja2.render_template("ledger.html", request, {
        "days": table, "span": span_days, "source_names": desk.source_names(), "labels": STATUS_LABELS,
        "config_ok": config is not None, "gaps": sum(d.gaps for d in table)})


@routes.get("/sources")
async def sources_page(request: web.Request) -> web.Response:
    """Each configured source: its windows, last run, health, and failures this week."""
    current_user(request, VIEWERS)
    desk, now = desk_of(request), datetime.now(timezone.utc)
    async with desk.sessions() as session:
        runs = await queries.runs_between(session, now - timedelta(days=7), now + timedelta(days=1))
    config = desk.config()
    rows = []
    for source in config.sources.sources if config else []:
        mine = [r for r in runs if r.source_id == source.id and r.status in FINISHED]
        last = mine[-1] if mine else None
        schedule = config.sources.schedule(source)  # type: ignore[union-attr]
        nxt = schedule.next_window(now) if source.enabled else None
        rows.append({
            "source": source, "last": last, "healthy": None if last is None else is_healthy(last.items, last.error),
            "runs": len(mine), "failed": sum(r.status == "failed" for r in mine),
            "windows": "全天" if schedule.always else "、".join(str(w) for w in schedule.windows),
            "next": nxt.start if nxt else None,
        })
    return aiohttp_jinja2.render_template("sources.html", request, {
        "rows": rows, "labels": STATUS_LABELS, "config_ok": config is not None})
