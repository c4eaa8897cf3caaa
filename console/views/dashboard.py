"""统计: hits per day by category and by source, open and overdue cases, handling time."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

import aiohttp_jinja2
from aiohttp import web

from alerts.deadlines import CHINA, overdue
from alerts.workflow import OPEN_STATES, STATE_LABELS, case_deadlines
from console import charts
from console.app import desk_of
from console.auth import VIEWERS
from console.views import current_user
from storage import queries
from storage import workflow as store

routes = web.RouteTableDef()
TOP_SERIES = 8  # more series than this fold into 其他


def per_day(facts: list[tuple[datetime, str]], days: list[str]) -> dict[str, list[int]]:
    """(moment, key) pairs counted per Beijing day and key; the rarest keys fold into 其他."""
    counts: dict[str, list[int]] = {}
    index = {day: i for i, day in enumerate(days)}
    for moment, key in facts:
        day = moment.astimezone(CHINA).strftime("%m-%d")
        if day in index:
            counts.setdefault(key, [0] * len(days))[index[day]] += 1
    ranked = sorted(counts, key=lambda k: -sum(counts[k]))
    if len(ranked) > TOP_SERIES:
        rest = [sum(col) for col in zip(*(counts[k] for k in ranked[TOP_SERIES - 1:]))]
        return {**{k: counts[k] for k in ranked[:TOP_SERIES - 1]}, "其他": rest}
    return {k: counts[k] for k in ranked}


@routes.get("/dashboard")
async def dashboard(request: web.Request) -> web.Response:
    current_user(request, VIEWERS)
    desk, now = desk_of(request), datetime.now(UTC)
    span = 30 if request.query.get("days") not in {"7", "90"} else int(request.query["days"])
    today = now.astimezone(CHINA).date()
    days = [(today - timedelta(days=i)) for i in range(span - 1, -1, -1)]
    since = datetime.combine(days[0], datetime.min.time(), CHINA).astimezone(UTC)
    async with desk.sessions() as session:
        facts = await queries.hit_facts(session, since)
        cases = await store.list_cases(session)
        closed = await store.handling_times(session, since)
    labels = [d.strftime("%m-%d") for d in days]
    names = desk.source_names()
    by_category = per_day([(at, category) for at, category, _ in facts], labels)
    by_source = per_day([(at, names.get(source, source)) for at, _, source in facts], labels)
    settings = desk.deadlines()
    open_cases = [c for c in cases if c.state in OPEN_STATES]
    late = [c for c in open_cases if overdue(c.state, case_deadlines(c, settings), now)]
    state_bars = [(STATE_LABELS[s], sum(c.state == s for c in open_cases), charts.PALETTE[i])
                  for i, s in enumerate(("new", "assessing", "reported", "dispatched", "replied"))]
    hours: dict[str, list[float]] = {}
    for grade, found, done in closed:
        hours.setdefault(grade, []).append((done - found).total_seconds() / 3600)
    handling = [{"grade": g, "count": len(v), "mean": statistics.fmean(v), "median": statistics.median(v),
                 "max": max(v)} for g, v in sorted(hours.items())]
    return aiohttp_jinja2.render_template("dashboard.html", request, {
        "span": span, "hits": len(facts), "open": len(open_cases), "late": len(late),
        "major_open": sum(c.grade == "重大" for c in open_cases),
        "chart_category": charts.stacked_bars(labels, by_category),
        "chart_source": charts.stacked_bars(labels, by_source),
        "chart_states": charts.hbars(state_bars, unit=" 件"),
        "chart_handling": charts.hbars([(f"{h['grade']}（中位数）", round(h["median"], 1), charts.PALETTE[i + 2])
                                        for i, h in enumerate(handling)], unit=" 小时"),
        "handling": handling, "late_cases": late[:10],
    })
