"""``reports:`` in alerts.yaml: which reports are generated when, in which format, mailed to whom.

Settings read (one entry per schedule):

* ``kind``   — daily | weekly | monthly | annual (舆情日报 / 周报 / 月报 / 年报)
* ``cron``   — five fields ``minute hour day month weekday`` in Beijing time, e.g. ``"30 17 * * *"``;
  weekdays are APScheduler's: ``mon``…``sun`` (or 0 = Monday)
* ``to``     — recipients (email addresses)
* ``format`` — docx (default) | xlsx
* ``channel`` — the ``name`` of the email channel whose SMTP settings send it (default: the first)
* ``period`` — current | previous: the period the report covers; default the day of the run for
  daily reports, the last complete week / month / year for the others
* ``remind`` — monthly only: a cron for the reminder mailed to the person on duty before the
  summary is due (the 10th of the next month)
* ``name``   — keeps the schedule's identity (what was already sent) when its cron or recipients change

A misspelt key, an unknown kind or a cron that does not parse is an error at load.
"""

from __future__ import annotations

from typing import Annotated, Literal

from apscheduler.triggers.cron import CronTrigger
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator


from alerts.deadlines import CHINA

KINDS = ("daily", "weekly", "monthly", "annual")
Kind = Literal["daily", "weekly", "monthly", "annual"]
MONTHLY_DUE_DAY = 10  # the monthly summary is due by the 10th of the next month


def trigger_of(cron: str) -> CronTrigger:
    """The APScheduler trigger of a five-field cron in Beijing time."""
    return CronTrigger.from_crontab(cron, timezone=CHINA)


def _check_cron(value: str) -> str:
    try:
        trigger_of(value)
    except ValueError as exc:
        raise ValueError(f"cron 应为五段「分 时 日 月 周」，如 \"30 17 * * *\" (invalid cron {value!r}: {exc})") from None
    return value


Cron = Annotated[str, AfterValidator(_check_cron)]


def _check_address(value: str) -> str:
    from alerts.config import _check_address as check  # one copy of the address rule

    return check(value)


class ReportSchedule(BaseModel):
    """One scheduled report: generated at ``cron``, kept under the data folder, mailed as an attachment."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    name: str | None = Field(None, min_length=1, max_length=48)
    kind: Kind
    cron: Cron
    to: list[Annotated[str, AfterValidator(_check_address)]] = Field(min_length=1)
    format: Literal["docx", "xlsx"] = "docx"
    channel: str | None = None
    period: Literal["current", "previous"] | None = None
    remind: Cron | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ReportSchedule:
        if self.remind is not None and self.kind != "monthly":
            raise ValueError("remind 只用于月报 (remind is for monthly reports only)")
        if self.kind == "monthly" and self.covers == "previous":
            day = self.cron.split()[2]
            if day.isdigit() and int(day) > MONTHLY_DUE_DAY:
                raise ValueError(f"月报须于次月{MONTHLY_DUE_DAY}日前报送，cron 的日期应不晚于 {MONTHLY_DUE_DAY} 日 "
                                 f"(the monthly summary is due by the {MONTHLY_DUE_DAY}th)")
        return self

    @property
    def covers(self) -> str:
        """current | previous: the period the report covers, the default filled in."""
        return self.period or ("current" if self.kind == "daily" else "previous")

    @property
    def key(self) -> str:
        """What the sent reports are recorded under: the name, or kind and cron."""
        return self.name or f"{self.kind}@{self.cron}"
