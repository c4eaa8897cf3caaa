"""处置时限 over the PRC calendar: 国庆, 春节, make-up workdays, and years the calendar does not know."""

from __future__ import annotations

import logging
from dataclasses import fields
from datetime import date, datetime, timedelta, timezone

import chinese_calendar
import pytest
from chinese_calendar.constants import holidays
from pydantic import ValidationError

from alerts.config import AlertsFile
from alerts.deadlines import (
    CHINA,
    DONE_IN,
    Deadlines,
    DeadlineSettings,
    deadlines_for,
    form_due,
    overdue,
)
from alerts.workflow import STATES
from storage.workflow import DUE_KINDS

DEFAULTS = DeadlineSettings()


def bj(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHINA)  # type: ignore[misc]


def test_major_case_before_national_day() -> None:
    found = bj(2026, 9, 30, 15, 0)  # Wednesday; 10-01 … 10-07 are 国庆 holidays
    d = deadlines_for("重大", found, DEFAULTS)
    assert d.report == bj(2026, 9, 30, 17, 0)
    assert d.result == bj(2026, 10, 1, 15, 0) and d.result_latest == bj(2026, 10, 2, 15, 0)  # clock hours
    assert d.form == bj(2026, 10, 8, 15, 0)  # one working day: the holiday week does not count
    assert (d.dispatch, d.dispatch_latest, d.reply) == (None, None, None)
    assert all(due.tzinfo == timezone.utc for _, due in d.items())


def test_ordinary_case_on_the_friday_before_a_make_up_saturday() -> None:
    d = deadlines_for("一般", bj(2026, 10, 9, 11, 0), DEFAULTS)
    assert d.form == bj(2026, 10, 10, 11, 0)  # Saturday 10-10 is a 调休 workday
    assert (d.dispatch, d.dispatch_latest) == (bj(2026, 10, 10, 11, 0), bj(2026, 10, 11, 11, 0))
    assert d.report is None and d.result is None


@pytest.mark.parametrize(("found", "due"), [
    (bj(2026, 2, 13, 16, 0), bj(2026, 2, 14, 16, 0)),  # Friday → the make-up Saturday before 春节
    (bj(2026, 2, 14, 16, 0), bj(2026, 2, 24, 16, 0)),  # 春节 02-15 … 02-23
    (bj(2026, 10, 3, 9, 0), bj(2026, 10, 9, 0, 0)),  # found on a holiday: all of 10-08 to fill it in
    (bj(2026, 9, 19, 10, 0), bj(2026, 9, 21, 0, 0)),  # found Saturday; Sunday 09-20 is a make-up workday
    (bj(2026, 6, 1, 8, 30), bj(2026, 6, 2, 8, 30)),  # an ordinary Monday
])
def test_form_due_counts_working_days(found: datetime, due: datetime) -> None:
    assert form_due(found) == due


def test_form_due_with_more_working_days_and_a_utc_input() -> None:
    found = bj(2026, 9, 30, 15, 0).astimezone(timezone.utc)
    assert form_due(found, workdays=2) == bj(2026, 10, 9, 15, 0)
    settings = DeadlineSettings(form_workdays=2)
    assert deadlines_for("一般", found, settings).form == bj(2026, 10, 9, 15, 0)


def test_a_year_the_calendar_does_not_cover_falls_back_to_weekends(caplog: pytest.LogCaptureFixture) -> None:
    year = max(holidays).year + 1  # always one year past the installed package's data
    friday = date(year, 6, 1) + timedelta(days=(4 - date(year, 6, 1).weekday()) % 7)
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(friday)
    with caplog.at_level(logging.WARNING, logger="yuqing.deadlines"):
        due = form_due(bj(friday.year, friday.month, friday.day, 10, 0))
    assert due == bj(year, friday.month, friday.day, 10, 0) + timedelta(days=3)  # the Monday after
    assert f"没有 {year} 年的节假日数据" in caplog.text and "weekends only" in caplog.text


def test_unknown_grade_is_an_error() -> None:
    with pytest.raises(ValueError, match="未知等级"):
        deadlines_for("特大", bj(2026, 6, 1, 8, 0), DEFAULTS)


def test_overdue_names_the_missed_steps_only() -> None:
    found = bj(2026, 6, 1, 9, 0)  # Monday
    major = deadlines_for("重大", found, DEFAULTS)
    assert overdue("assessing", major, found + timedelta(hours=1)) == []
    assert overdue("assessing", major, found + timedelta(hours=3)) == ["report"]
    assert overdue("reported", major, found + timedelta(hours=3)) == []
    assert overdue("dispatched", major, found + timedelta(hours=25)) == ["result"]
    assert overdue("dispatched", major, found + timedelta(hours=49)) == ["result", "result_latest"]
    assert overdue("replied", major, found + timedelta(hours=49)) == []
    assert overdue("false_positive", major, found + timedelta(days=30)) == []
    ordinary = deadlines_for("一般", found, DEFAULTS)
    assert overdue("new", ordinary, found + timedelta(hours=25)) == ["form", "dispatch"]
    assert overdue("reported", ordinary, found + timedelta(hours=49)) == ["dispatch", "dispatch_latest"]


def test_tables_agree_with_the_workflow_and_storage() -> None:
    assert tuple(f.name for f in fields(Deadlines)) == DUE_KINDS
    assert set(DONE_IN) == set(DUE_KINDS)
    assert set().union(*DONE_IN.values()) <= set(STATES)


def test_settings_in_alerts_yaml() -> None:
    assert AlertsFile().deadlines == DEFAULTS  # files written before the section existed still load
    custom = AlertsFile.model_validate({"deadlines": {"major_report": "90m", "ordinary_dispatch": "12h",
                                                      "form_workdays": 2}}).deadlines
    assert (custom.major_report, custom.ordinary_dispatch, custom.form_workdays) == (5400, 43200, 2)
    assert deadlines_for("重大", bj(2026, 6, 1, 9, 0), custom).report == bj(2026, 6, 1, 10, 30)
    with pytest.raises(ValidationError, match="不能早于"):
        AlertsFile.model_validate({"deadlines": {"major_result": "72h"}})  # later than the 48 h "latest"
    with pytest.raises(ValidationError):
        AlertsFile.model_validate({"deadlines": {"major_reprot": "1h"}})
    with pytest.raises(ValidationError):
        AlertsFile.model_validate({"deadlines": {"reply": "soon"}})
