"""The patrol ledger (巡查台账): every mandated window of every source, and what happened in it.

The windows come from each source's ``PatrolSchedule`` — what *should* have run — and the runs
table says what did. A window that has closed without a finished run is a gap (缺口) and is
listed as one, never left out; runs outside any window (``yuqing crawl --once``) get lines of
their own. A source patrolled ``always`` has one line per day (全天). Each line names the person
on duty (alerts.reports.roster). ``build_ledger`` is pure; ``load_ledger`` reads the database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.deadlines import CHINA
from alerts.reports.roster import Roster, load_roster, month_key
from crawler.schedule.windows import Occurrence, PatrolSchedule
from storage import reports as store
from storage.models import RunRow

FINISHED = ("ok", "partial", "failed")
STATUS_LABELS = {
    "ok": "正常", "partial": "部分失败", "failed": "失败", "aborted": "中断",
    "gap": "缺口（未巡查）", "future": "未到时段", "open": "巡查中",
}
ALL_DAY = "全天"
MANUAL = "窗口外（手动）"


@dataclass(frozen=True)
class SourceInfo:
    """What the ledger needs of one source: its id, name and mandated windows."""

    source_id: str
    name: str
    schedule: PatrolSchedule


@dataclass(frozen=True)
class LedgerLine:
    day: date  # local (Beijing) date of the window
    window: str  # 13:00-14:00 | 全天 | 窗口外（手动）
    start: datetime
    end: datetime
    source_id: str
    source_name: str
    status: str  # ok | partial | failed | aborted | gap | future | open
    runs: int
    fetched: int
    failed: int
    items: int
    new_items: int
    hits: int
    alerts: int
    reason: str  # why it failed, or why it is a gap
    on_duty: str

    @property
    def gap(self) -> bool:
        return self.status == "gap"

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


def occurrences(schedule: PatrolSchedule, since: datetime, until: datetime) -> list[Occurrence]:
    """The window openings that start in [since, until), in order."""
    out: list[Occurrence] = []
    moment = since
    while True:
        occ = schedule.next_window(moment)
        if occ is None or occ.start >= until:
            return out
        if occ.start >= since and (not out or occ.start > out[-1].start):
            out.append(occ)
        moment = max(occ.end, moment + timedelta(seconds=1))


def window_label(schedule: PatrolSchedule, occ: Occurrence) -> str:
    if schedule.always:
        return ALL_DAY
    start, end = occ.start.astimezone(CHINA), occ.end.astimezone(CHINA)
    return f"{start:%H:%M}-{'24:00' if end.time() == time(0) else f'{end:%H:%M}'}"


def day_range(first: date, last: date) -> tuple[datetime, datetime]:
    """[first 00:00, last+1 00:00) in Beijing time, as aware datetimes."""
    return (datetime.combine(first, time(0), CHINA), datetime.combine(last + timedelta(days=1), time(0), CHINA))


def _line(source: SourceInfo, window: str, start: datetime, end: datetime, runs: Sequence[RunRow],
          alerts: Mapping[int, int], on_duty: str, now: datetime) -> LedgerLine:
    finished = [r for r in runs if r.status in FINISHED]
    if finished:
        statuses = {r.status for r in finished}
        status = "ok" if "ok" in statuses else "partial" if "partial" in statuses else "failed"
        reason = "；".join(dict.fromkeys(r.error.strip() for r in finished if r.error and r.status != "ok"))
    elif runs and all(r.status == "aborted" for r in runs) and end <= now:
        status, reason = "gap", "巡查被中断，未完成（" + "；".join(
            dict.fromkeys((r.error or "").strip() for r in runs)) + "）"
    elif end <= now:
        status, reason = "gap", "该时段没有巡查记录（守护进程未运行或未按时启动）"
    elif start > now:
        status, reason = "future", ""
    else:
        status, reason = "open", ""
    return LedgerLine(
        day=start.astimezone(CHINA).date(), window=window, start=start, end=end, source_id=source.source_id,
        source_name=source.name, status=status, runs=len(runs),
        fetched=sum(r.fetched for r in runs), failed=sum(r.failed for r in runs), items=sum(r.items for r in runs),
        new_items=sum(r.new_items for r in runs), hits=sum(r.hits for r in runs),
        alerts=sum(alerts.get(r.id, 0) for r in runs), reason=reason, on_duty=on_duty)


def build_ledger(sources: Sequence[SourceInfo], runs: Sequence[RunRow], alerts: Mapping[int, int], roster: Roster,
                 since: datetime, until: datetime, now: datetime) -> list[LedgerLine]:
    """One line per mandated window per source in [since, until), plus one per run outside any window."""
    lines: list[LedgerLine] = []
    by_source: dict[str, list[RunRow]] = {}
    for run in runs:
        by_source.setdefault(run.source_id, []).append(run)
    for source in sources:
        mine = by_source.pop(source.source_id, [])
        used: set[int] = set()
        for occ in occurrences(source.schedule, since, until):
            inside = [r for r in mine if r.window_start == occ.start
                      or (r.window_start is None and occ.start <= r.started_at < occ.end)]
            used.update(r.id for r in inside)
            window = window_label(source.schedule, occ)
            lines.append(_line(source, window, occ.start, occ.end, inside, alerts,
                               roster.on_duty(occ.start.astimezone(CHINA), window) or "", now))
        for run in mine:
            if run.id not in used:  # outside every window: a manual run, still on the record
                lines.append(_manual(source.source_id, source.name, run, alerts, roster, now))
    for source_id, rest in by_source.items():  # sources since removed from sources.yaml
        lines.extend(_manual(source_id, source_id, run, alerts, roster, now) for run in rest)
    return sorted(lines, key=lambda line: (line.start, line.source_id))


def _manual(source_id: str, name: str, run: RunRow, alerts: Mapping[int, int], roster: Roster,
            now: datetime) -> LedgerLine:
    start = run.window_start or run.started_at
    end = run.window_end or run.finished_at or run.started_at
    info = SourceInfo(source_id, name, PatrolSchedule((), 86400.0, CHINA))
    line = _line(info, MANUAL if run.window_start is None else window_label(info.schedule, Occurrence(start, end)),
                 start, end, [run], alerts, roster.on_duty(start.astimezone(CHINA)) or "", now)
    return line


@dataclass(frozen=True)
class LedgerSummary:
    windows: int  # mandated windows that have opened
    patrolled: int
    gaps: int
    failed: int  # windows whose runs all failed
    items: int
    new_items: int
    hits: int
    alerts: int


def summarize(lines: Sequence[LedgerLine]) -> LedgerSummary:
    due = [line for line in lines if line.status != "future" and line.window != MANUAL]
    return LedgerSummary(
        windows=len(due), patrolled=sum(line.status in FINISHED for line in due),
        gaps=sum(line.gap for line in due), failed=sum(line.status == "failed" for line in due),
        items=sum(line.items for line in lines), new_items=sum(line.new_items for line in lines),
        hits=sum(line.hits for line in lines), alerts=sum(line.alerts for line in lines))


async def load_ledger(session: AsyncSession, sources: Sequence[SourceInfo], since: datetime, until: datetime,
                      now: datetime) -> list[LedgerLine]:
    """The ledger of [since, until) from the database."""
    runs = await store.runs_between(session, since, until)
    alerts = await store.alerts_per_run(session, (r.id for r in runs))
    months = {month_key(d) for d in _days(since, until)}
    roster = await load_roster(session, months)
    return build_ledger(sources, runs, alerts, roster, since, until, now)


def _days(since: datetime, until: datetime) -> list[date]:
    first, last = since.astimezone(CHINA).date(), (until - timedelta(seconds=1)).astimezone(CHINA).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
