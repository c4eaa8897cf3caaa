"""处置时限: when each step of a case is due, from its grade and its discovery time.

The numbers are the regulations' (DESIGN §1) and every one can be changed in ``alerts.yaml``
under ``deadlines:``. Hours are clock hours; the 处理单 counts working days on the PRC calendar
(holidays and make-up workdays from the ``chinese-calendar`` package), in Beijing time because
that is the calendar's own. Pure functions: aware datetimes in, aware UTC out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta, timezone
from types import MappingProxyType
from zoneinfo import ZoneInfo

import chinese_calendar
from pydantic import BaseModel, ConfigDict, Field, model_validator

from crawler.config.sources import PositiveSeconds

log = logging.getLogger("yuqing.deadlines")

CHINA = ZoneInfo("Asia/Shanghai")
HOUR = 3600.0


class DeadlineSettings(BaseModel):
    """``deadlines:`` in alerts.yaml; durations like ``2h``, ``90m``, ``1d``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    major_report: PositiveSeconds = 2 * HOUR  # 重大：发现后报告领导
    major_result: PositiveSeconds = 24 * HOUR  # 重大：跟踪处置结果
    major_result_latest: PositiveSeconds = 48 * HOUR
    ordinary_dispatch: PositiveSeconds = 24 * HOUR  # 一般：交办责任部门并通知
    ordinary_dispatch_latest: PositiveSeconds = 48 * HOUR
    form_workdays: int = Field(default=1, ge=1, le=10)  # 《舆情信息报告处理单》报送领导
    reply: PositiveSeconds = 24 * HOUR  # 交办时未写 --due：部门反馈期限
    remind_before: PositiveSeconds = 0.5 * HOUR  # 到期前提醒一次
    escalate_every: PositiveSeconds = 2 * HOUR  # 超时后向上一级督办，未处理则按此间隔重复
    escalate_to: list[str] = Field(default_factory=list)  # 督办发往的渠道；空：所有接收「重大」的渠道（领导）

    @model_validator(mode="after")
    def _latest_after_due(self) -> DeadlineSettings:
        for due, latest in (("major_result", "major_result_latest"), ("ordinary_dispatch", "ordinary_dispatch_latest")):
            if getattr(self, latest) < getattr(self, due):
                raise ValueError(f"{latest} 不能早于 {due} ({latest} must not be earlier than {due})")
        return self


@dataclass(frozen=True)
class Deadlines:
    """Due times of one case (aware UTC); None where its grade sets no such deadline."""

    report: datetime | None = None  # 重大
    form: datetime | None = None
    dispatch: datetime | None = None  # 一般
    dispatch_latest: datetime | None = None
    result: datetime | None = None  # 重大
    result_latest: datetime | None = None
    reply: datetime | None = None  # set when dispatched

    def items(self) -> list[tuple[str, datetime]]:
        """(kind, due) of the deadlines this case has, earliest first."""
        present = [(f.name, getattr(self, f.name)) for f in fields(self) if getattr(self, f.name) is not None]
        return sorted(present, key=lambda pair: pair[1])


LABELS = MappingProxyType({
    "report": "报告领导",
    "form": "报送处理单",
    "dispatch": "交办责任部门",
    "dispatch_latest": "交办（最迟）",
    "result": "跟踪处置结果",
    "result_latest": "处置结果（最迟）",
    "reply": "部门反馈",
})

# The states in which the step a deadline guards is done; 误报 stops every clock.
_REPORTED = frozenset({"reported", "dispatched", "replied", "closed", "false_positive"})
_DISPATCHED = _REPORTED - {"reported"}
_REPLIED = _DISPATCHED - {"dispatched"}
DONE_IN = MappingProxyType({
    "report": _REPORTED, "form": _REPORTED,
    "dispatch": _DISPATCHED, "dispatch_latest": _DISPATCHED,
    "result": _REPLIED, "result_latest": _REPLIED, "reply": _REPLIED,
})


def _is_workday(day: date, uncovered: set[int]) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # the package has no data for this year yet
        uncovered.add(day.year)
        return day.weekday() < 5


def _next_workday(day: date, uncovered: set[int]) -> date:
    day += timedelta(days=1)
    while not _is_workday(day, uncovered):
        day += timedelta(days=1)
    return day


def form_due(found_at: datetime, workdays: int = 1) -> datetime:
    """The 处理单 deadline: the same clock time ``workdays`` working days later.

    Found on a rest day, the clock starts when the next working day begins, so the form is due
    at the end of that day: a full working day, never a holiday. Years the calendar package does
    not cover fall back to Monday–Friday, with a warning.
    """
    local = found_at.astimezone(CHINA)
    uncovered: set[int] = set()
    day, clock = local.date(), local.time()
    if not _is_workday(day, uncovered):
        day, clock = _next_workday(day, uncovered), time(0)
    for _ in range(workdays):
        day = _next_workday(day, uncovered)
    if uncovered:
        log.warning("chinese-calendar 没有 %s 年的节假日数据，处理单期限仅按周末推算（未计法定节假日和调休），请升级 "
                    "chinese-calendar (no holiday data for %s: counting weekends only; upgrade the package)",
                    "、".join(map(str, sorted(uncovered))), ", ".join(map(str, sorted(uncovered))))
    return datetime.combine(day, clock, CHINA).astimezone(timezone.utc)


def deadlines_for(grade: str, found_at: datetime, config: DeadlineSettings) -> Deadlines:
    """The regulation deadlines of a case of this grade found at ``found_at``."""
    found = found_at.astimezone(timezone.utc)

    def after(seconds: float) -> datetime:
        return found + timedelta(seconds=seconds)

    form = form_due(found, config.form_workdays)
    if grade == "重大":
        return Deadlines(report=after(config.major_report), form=form, result=after(config.major_result),
                         result_latest=after(config.major_result_latest))
    if grade == "一般":
        return Deadlines(form=form, dispatch=after(config.ordinary_dispatch),
                         dispatch_latest=after(config.ordinary_dispatch_latest))
    raise ValueError(f"未知等级 {grade!r}，应为 一般 或 重大 (unknown grade)")


def overdue(alert_state: str, deadlines: Deadlines, now: datetime) -> list[str]:
    """The deadlines missed at ``now``: passed while their step is still undone, earliest first."""
    return [kind for kind, due in deadlines.items() if now > due and alert_state not in DONE_IN[kind]]


def local_time(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored (UTC) time as people read it: Beijing time; "—" for none."""
    return moment.astimezone(CHINA).strftime(fmt) if moment else "—"


def span_text(seconds: float, sep: str = " ") -> str:
    """``1 天 2 小时 3 分`` (``sep=""``: ``1天2小时3分``), the sign dropped: countdowns say which way."""
    minutes = int(abs(seconds)) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    return (f"{days}{sep}天{sep}" if days else "") + (f"{hours}{sep}小时{sep}" if days or hours else "") + f"{minutes}{sep}分"
