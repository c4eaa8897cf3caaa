"""来源状态 and 巡查台账: the proof that every mandated window of every day was patrolled.

Both pages read ``alerts.reports.ledger`` — the same ledger as the written reports: each mandated
window of each source laid over the runs table, a window that closed without a finished run
listed as a gap, runs outside any window on lines of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import aiohttp_jinja2
from aiohttp import web

from alerts.deadlines import CHINA
from alerts.reports.ledger import STATUS_LABELS, LedgerLine, SourceInfo, day_range, load_ledger
from console.app import desk_of
from console.auth import VIEWERS
from console.views import current_user
from crawler.cli_reports import sources_info
from crawler.health import is_healthy
from storage import reports

routes = web.RouteTableDef()
WEEKDAYS = "一二三四五六日"


@dataclass(frozen=True)
class Day:
    day: date
    lines: list[LedgerLine]

    @property
    def gaps(self) -> int:
        return sum(line.gap for line in self.lines)

    @property
    def weekday(self) -> str:
        return f"星期{WEEKDAYS[self.day.weekday()]}"


def _sources(request: web.Request) -> tuple[SourceInfo, ...] | None:
    config = desk_of(request).config()
    return sources_info(config.sources) if config else None


@routes.get("/ledger")
async def patrol_ledger(request: web.Request) -> web.Response:
    current_user(request, VIEWERS)
    desk, now = desk_of(request), datetime.now(UTC)
    try:
        span = min(max(int(request.query.get("days", "7")), 1), 62)
    except ValueError:
        span = 7
    today = now.astimezone(CHINA).date()
    since, until = day_range(today - timedelta(days=span - 1), today)
    sources = _sources(request)
    async with desk.sessions() as session:
        lines = await load_ledger(session, sources or (), since, until, now)
    days = [Day(today - timedelta(days=n), []) for n in range(span)]
    by_day = {d.day: d for d in days}
    for line in lines:
        if line.day in by_day:
            by_day[line.day].lines.append(line)
    return aiohttp_jinja2.render_template("ledger.html", request, {
        "days": days, "span": span, "labels": STATUS_LABELS, "config_ok": sources is not None,
        "gaps": sum(d.gaps for d in days)})


@routes.get("/sources")
async def sources_page(request: web.Request) -> web.Response:
    """Each configured source: its windows, last run, health, and windows missed this week."""
    current_user(request, VIEWERS)
    desk, now = desk_of(request), datetime.now(UTC)
    config = desk.config()
    infos = {info.source_id: info for info in _sources(request) or ()}
    async with desk.sessions() as session:
        runs = await reports.runs_between(session, now - timedelta(days=7), now + timedelta(days=1))
        lines = await load_ledger(session, tuple(infos.values()), now - timedelta(days=7), now, now)
    rows = []
    for source in config.sources.sources if config else []:
        mine = [r for r in runs if r.source_id == source.id and r.status in ("ok", "partial", "failed")]
        last = max(mine, key=lambda r: r.started_at) if mine else None
        schedule = config.sources.schedule(source)  # type: ignore[union-attr]
        nxt = schedule.next_window(now) if source.enabled else None
        rows.append({
            "source": source, "last": last, "healthy": None if last is None else is_healthy(last.items, last.error),
            "runs": len(mine), "failed": sum(r.status == "failed" for r in mine),
            "gaps": sum(line.gap for line in lines if line.source_id == source.id),
            "windows": "全天" if schedule.always else "、".join(str(w) for w in schedule.windows),
            "next": nxt.start if nxt else None,
        })
    return aiohttp_jinja2.render_template("sources.html", request, {
        "rows": rows, "labels": STATUS_LABELS, "config_ok": config is not None})
