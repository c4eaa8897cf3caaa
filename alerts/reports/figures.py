"""The numbers of each report, as plain dataclasses: computed from the cases, their audit milestones
and the patrol ledger of one period. ``compute`` is pure; ``load_figures`` reads the database.

Counting rules (the tests recount each with SQL of their own):

* a period's cases are the alerts found (created) in [start, end), in Beijing time; a repost of an
  incident's story is a line of the incident's propagation path, not a case: each incident counts once;
* open / overdue cases are counted at the moment of generation, whenever they were found;
* 及时率: per deadline kind, over the period's cases that are not 误报 — done on time, done late,
  missed (passed and still undone), not yet due; a step is done at the first audit entry that
  moves the case into a state where it counts as done (alerts.deadlines.DONE_IN);
* per department: the period's cases dispatched to it; 按时反馈 when the reply came by the reply
  due time; 超期 when it came late or has not come and the due time has passed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.deadlines import CHINA, DONE_IN, LABELS, DeadlineSettings, overdue
from alerts.leads import SOURCE_ID as INFORMANT_SOURCE
from alerts.reports.ledger import LedgerLine, LedgerSummary, SourceInfo, load_ledger, summarize
from alerts.workflow import OPEN_STATES, STATE_LABELS, case_deadlines
from storage import queries
from storage import reports as store
from storage import workflow as cases_store

GRADES = ("重大", "一般")
TOP_ITEMS = 10
PERIOD_NAMES = {"daily": "日报", "weekly": "周报", "monthly": "月报", "annual": "年报"}


@dataclass(frozen=True)
class Period:
    """[start, end) of one report, aware, Beijing-local boundaries."""

    kind: str  # daily | weekly | monthly | annual
    start: datetime
    end: datetime

    @property
    def first_day(self) -> date:
        return self.start.astimezone(CHINA).date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(seconds=1)).astimezone(CHINA).date()

    @property
    def key(self) -> str:
        """2026-11-30 | 2026-W48 | 2026-11 | 2026: names files and records what was sent."""
        day = self.first_day
        if self.kind == "weekly":
            iso = day.isocalendar()
            return f"{iso.year}-W{iso.week:02d}"
        return {"daily": day.isoformat(), "monthly": f"{day:%Y-%m}", "annual": f"{day.year}"}[self.kind]

    @property
    def label(self) -> str:
        """2026年11月30日 | 2026年第48周（11月23日—11月29日） | 2026年11月 | 2026年度"""
        a, b = self.first_day, self.last_day
        if self.kind == "daily":
            return f"{a.year}年{a.month}月{a.day}日"
        if self.kind == "weekly":
            return f"{a.isocalendar().year}年第{a.isocalendar().week}周（{a.month}月{a.day}日—{b.month}月{b.day}日）"
        return f"{a.year}年{a.month}月" if self.kind == "monthly" else f"{a.year}年度"

    def previous(self) -> Period:
        return period_of(self.kind, self.first_day - timedelta(days=1))

    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=n) for n in range((self.last_day - self.first_day).days + 1)]


def period_of(kind: str, day: date) -> Period:
    """The daily / weekly (Monday–Sunday) / monthly / annual period containing ``day``."""
    if kind == "daily":
        first, nxt = day, day + timedelta(days=1)
    elif kind == "weekly":
        first = day - timedelta(days=day.weekday())
        nxt = first + timedelta(days=7)
    elif kind == "monthly":
        first = day.replace(day=1)
        nxt = (first + timedelta(days=32)).replace(day=1)
    elif kind == "annual":
        first, nxt = date(day.year, 1, 1), date(day.year + 1, 1, 1)
    else:
        raise ValueError(f"未知报表类型 {kind!r}，可选 daily、weekly、monthly、annual (unknown report kind)")
    return Period(kind, datetime.combine(first, time(0), CHINA), datetime.combine(nxt, time(0), CHINA))


@dataclass(frozen=True)
class CaseLine:
    """One case as a report lists it."""

    alert_id: int
    found_at: datetime
    grade: str
    category: str
    source_id: str
    source_name: str
    title: str
    url: str
    state: str  # label: 已交办 …
    department: str
    overdue: tuple[str, ...]  # labels of the deadlines missed at generation


@dataclass(frozen=True)
class Timeliness:
    kind: str  # label: 报告领导 …
    cases: int
    on_time: int
    late: int
    missed: int
    not_due: int

    @property
    def rate(self) -> float | None:
        """按时完成率 over the cases whose step is done or missed."""
        judged = self.on_time + self.late + self.missed
        return self.on_time / judged if judged else None


@dataclass(frozen=True)
class DepartmentLine:
    department: str
    dispatched: int
    replied: int
    replied_on_time: int
    overdue: int
    closed: int


@dataclass(frozen=True)
class SourceHealth:
    source_id: str
    name: str
    windows: int
    patrolled: int
    gaps: int
    failed: int
    items: int
    new_items: int
    hits: int
    last_error: str


@dataclass(frozen=True)
class InformantLine:
    informant: str
    submitted: int
    confirmed: int


@dataclass(frozen=True)
class Figures:
    """Every number a periodic report shows, for one period."""

    period: Period
    generated_at: datetime
    cases: tuple[CaseLine, ...]  # found in the period, oldest first
    by_grade: Mapping[str, int]
    by_category: Mapping[str, int]
    by_source: Mapping[str, int]  # source name → alerts
    by_state: Mapping[str, int]
    false_positives: int
    open_cases: tuple[CaseLine, ...]  # at generation, any period
    overdue_cases: tuple[CaseLine, ...]
    top: tuple[CaseLine, ...]
    per_day: tuple[tuple[date, int], ...]
    per_month_category: Mapping[str, tuple[int, ...]]  # category → 12 monthly counts (annual)
    timeliness: tuple[Timeliness, ...]
    departments: tuple[DepartmentLine, ...]
    informants: tuple[InformantLine, ...]
    ledger: tuple[LedgerLine, ...]
    ledger_summary: LedgerSummary
    sources: tuple[SourceHealth, ...]
    previous_total: int
    previous_by_category: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.cases)


def _case_line(case: cases_store.Case, names: Mapping[str, str], settings: DeadlineSettings,
               now: datetime) -> CaseLine:
    missed = tuple(LABELS[kind] for kind in overdue(case.state, case_deadlines(case, settings), now))
    return CaseLine(case.alert_id, case.found_at, case.grade, case.category, case.source_id,
                    names.get(case.source_id, case.source_id), case.title, case.url,
                    STATE_LABELS.get(case.state, case.state), case.department or "", missed)


def _done_at(kind: str, steps: Sequence[store.Milestone]) -> datetime | None:
    return next((m.at for m in steps if m.to_state in DONE_IN[kind] and m.to_state != "false_positive"), None)


def timeliness(cases: Sequence[cases_store.Case], steps: Mapping[int, Sequence[store.Milestone]],
               settings: DeadlineSettings, now: datetime) -> list[Timeliness]:
    """Per deadline kind: on time, late, missed, not yet due (误报 left out: its clocks stop)."""
    tally: dict[str, Counter[str]] = {}
    for case in cases:
        if case.state == "false_positive":
            continue
        for kind, due in case_deadlines(case, settings).items():
            done = _done_at(kind, steps.get(case.alert_id, ()))
            verdict = ("on_time" if done <= due else "late") if done else ("missed" if now > due else "not_due")
            tally.setdefault(kind, Counter())[verdict] += 1
    order = list(LABELS)
    return [Timeliness(LABELS[kind], sum(c.values()), c["on_time"], c["late"], c["missed"], c["not_due"])
            for kind, c in sorted(tally.items(), key=lambda pair: order.index(pair[0]))]


def departments(cases: Sequence[cases_store.Case], steps: Mapping[int, Sequence[store.Milestone]],
                now: datetime) -> list[DepartmentLine]:
    tally: dict[str, Counter[str]] = {}
    for case in cases:
        if case.department is None:
            continue
        c = tally.setdefault(case.department, Counter())
        c["dispatched"] += 1
        replied = next((m.at for m in steps.get(case.alert_id, ()) if m.action == "reply"), None)
        due = case.due.get("reply")
        if replied is not None:
            c["replied"] += 1
            c["on_time" if due is None or replied <= due else "overdue"] += 1
        elif due is not None and now > due:
            c["overdue"] += 1
        c["closed"] += case.state == "closed"
    return [DepartmentLine(name, c["dispatched"], c["replied"], c["on_time"], c["overdue"], c["closed"])
            for name, c in sorted(tally.items())]


def source_health(sources: Sequence[SourceInfo], lines: Sequence[LedgerLine]) -> list[SourceHealth]:
    out = []
    for source in sources:
        mine = [line for line in lines if line.source_id == source.source_id]
        summary = summarize(mine)
        errors = [line.reason for line in mine if line.reason and line.status in ("failed", "partial")]
        out.append(SourceHealth(source.source_id, source.name, summary.windows, summary.patrolled, summary.gaps,
                                summary.failed, summary.items, summary.new_items, summary.hits,
                                errors[-1] if errors else ""))
    return out


def compute(period: Period, all_cases: Sequence[cases_store.Case], steps: Mapping[int, Sequence[store.Milestone]],
            ledger: Sequence[LedgerLine], sources: Sequence[SourceInfo], informants: Sequence[InformantLine],
            settings: DeadlineSettings, now: datetime) -> Figures:
    """The figures of ``period`` from every case (newest first or any order), pure."""
    names = {INFORMANT_SOURCE: "信息员报送", **{s.source_id: s.name for s in sources}}
    start, end = period.start.astimezone(timezone.utc), period.end.astimezone(timezone.utc)
    before = period.previous()
    mine = sorted((c for c in all_cases if start <= c.found_at < end), key=lambda c: (c.found_at, c.alert_id))
    previous = [c for c in all_cases if before.start <= c.found_at < before.end]
    lines = [_case_line(c, names, settings, now) for c in mine]
    open_lines = [_case_line(c, names, settings, now) for c in sorted(all_cases, key=lambda c: c.found_at)
                  if c.state in OPEN_STATES]
    ranked = sorted((line for line in lines if line.state != STATE_LABELS["false_positive"]),
                    key=lambda line: (line.grade != "重大", -line.found_at.timestamp(), line.alert_id))
    per_day = Counter(c.found_at.astimezone(CHINA).date() for c in mine)
    per_month: dict[str, list[int]] = {}
    if period.kind == "annual":
        for c in mine:
            per_month.setdefault(c.category, [0] * 12)[c.found_at.astimezone(CHINA).month - 1] += 1
    by_grade = Counter(c.grade for c in mine)
    return Figures(
        period=period, generated_at=now, cases=tuple(lines),
        by_grade={grade: by_grade.get(grade, 0) for grade in GRADES},
        by_category=dict(Counter(c.category for c in mine).most_common()),
        by_source=dict(Counter(names.get(c.source_id, c.source_id) for c in mine).most_common()),
        by_state=dict(Counter(STATE_LABELS.get(c.state, c.state) for c in mine).most_common()),
        false_positives=sum(c.state == "false_positive" for c in mine),
        open_cases=tuple(open_lines), overdue_cases=tuple(line for line in open_lines if line.overdue),
        top=tuple(ranked[:TOP_ITEMS]),
        per_day=tuple((day, per_day.get(day, 0)) for day in period.days()),
        per_month_category={k: tuple(v) for k, v in sorted(per_month.items())},
        timeliness=tuple(timeliness(mine, steps, settings, now)),
        departments=tuple(departments(mine, steps, now)),
        informants=tuple(informants), ledger=tuple(ledger), ledger_summary=summarize(ledger),
        sources=tuple(source_health(sources, ledger)),
        previous_total=len(previous), previous_by_category=dict(Counter(c.category for c in previous)),
    )


async def load_figures(session: AsyncSession, period: Period, sources: Sequence[SourceInfo],
                       settings: DeadlineSettings, now: datetime, *, with_ledger: bool = True) -> Figures:
    """Read what ``compute`` needs for ``period`` and compute it."""
    copies = await store.reposts(session)
    all_cases = [c for c in await cases_store.list_cases(session) if c.alert_id not in copies]
    start, end = period.start, period.end
    mine = [c for c in all_cases if start <= c.found_at < end]
    steps = await store.milestones(session, (c.alert_id for c in mine))
    ledger = await load_ledger(session, sources, start, end, now) if with_ledger else []
    informants = [InformantLine(s.informant, s.submitted, s.confirmed)
                  for s in await queries.informant_stats(session, INFORMANT_SOURCE, start, end)]
    return compute(period, all_cases, steps, ledger, sources, informants, settings, now)
