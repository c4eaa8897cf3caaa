"""Chinese and relative time spellings → aware datetimes in the site's zone, against a fixed ``now``."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from crawler.adapters.dates import parse_cn_datetime

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 5, 13, 16, 0, tzinfo=SH)  # a Monday afternoon in Beijing


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)  # type: ignore[misc]


CASES = [
    ("刚刚", NOW),
    ("30秒前", sh(2024, 5, 13, 15, 59, 30)),
    ("5分钟前", sh(2024, 5, 13, 15, 55)),
    ("3小时前", sh(2024, 5, 13, 13, 0)),
    ("3 个小时前", sh(2024, 5, 13, 13, 0)),
    ("半小时前", sh(2024, 5, 13, 15, 30)),
    ("2天前", sh(2024, 5, 11, 16, 0)),
    ("1周前", sh(2024, 5, 6, 16, 0)),
    ("昨天 08:30", sh(2024, 5, 12, 8, 30)),
    ("昨天08:30", sh(2024, 5, 12, 8, 30)),
    ("前天", sh(2024, 5, 11)),
    ("前天 21:05", sh(2024, 5, 11, 21, 5)),
    ("今天 10:00", sh(2024, 5, 13, 10, 0)),
    ("10:00", sh(2024, 5, 13, 10, 0)),  # Tieba: a bare time is today's
    ("23:59", sh(2024, 5, 12, 23, 59)),  # … unless that is still to come
    ("3-5", sh(2024, 3, 5)),
    ("12-25", sh(2023, 12, 25)),  # this year's would be in the future
    ("5-13", sh(2024, 5, 13)),  # today
    ("03-05 14:02", sh(2024, 3, 5, 14, 2)),
    ("03月05日", sh(2024, 3, 5)),
    ("3月5日 14:02", sh(2024, 3, 5, 14, 2)),
    ("2-29", sh(2024, 2, 29)),
    ("2024年3月5日 14:02", sh(2024, 3, 5, 14, 2)),
    ("2024年03月05日14:02", sh(2024, 3, 5, 14, 2)),
    ("2024-03-05 14:02", sh(2024, 3, 5, 14, 2)),
    ("2024-03-05 14:02:33", sh(2024, 3, 5, 14, 2, 33)),
    ("2024/3/5", sh(2024, 3, 5)),
    ("2024.3.5", sh(2024, 3, 5)),
    ("2024-03-05T14:02", sh(2024, 3, 5, 14, 2)),
    ("2024-03-05T06:02:00Z", sh(2024, 3, 5, 14, 2)),
    ("2024-03-05T14:02:00+00:00", sh(2024, 3, 5, 22, 2)),
    ("2024-03-05T14:02:00.250-0500", sh(2024, 3, 6, 3, 2)),
    ("发表于 2024-3-5 14:02", sh(2024, 3, 5, 14, 2)),
    ("发表于 3 天前", sh(2024, 5, 10, 16, 0)),
    ("发表于 3\xa0天前", sh(2024, 5, 10, 16, 0)),  # Discuz writes 3&nbsp;天前
    ("发布时间：2024-05-09 20:52", sh(2024, 5, 9, 20, 52)),
    ("本帖最后由 张三 于 2015-3-5 14:02 编辑", sh(2015, 3, 5, 14, 2)),
    ("３天前", sh(2024, 5, 10, 16, 0)),
    ("２０２４年３月５日　１４：０２", sh(2024, 3, 5, 14, 2)),
    ("２０２４－０３－０５", sh(2024, 3, 5)),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_spellings(text: str, expected: datetime) -> None:
    found = parse_cn_datetime(text, NOW)
    assert found == expected
    assert found is not None and found.tzinfo == SH


@pytest.mark.parametrize("text", ["", "楼主", "没有时间", "2024-13-45", "13-45", "25:99", "24-03-05"])
def test_no_time_is_none(text: str) -> None:
    assert parse_cn_datetime(text, NOW) is None


def test_impossible_candidate_is_skipped_for_the_next_one() -> None:
    assert parse_cn_datetime("2024-02-30 或 2024-03-01 09:00", NOW) == sh(2024, 3, 1, 9, 0)


def test_now_in_utc_is_read_in_the_site_zone() -> None:
    """The fetcher stamps UTC; 昨天 means yesterday in Beijing (already the 13th there at 23:00 UTC on the 12th)."""
    now_utc = datetime(2024, 5, 12, 23, 0, tzinfo=timezone.utc)
    assert parse_cn_datetime("昨天 08:30", now_utc) == sh(2024, 5, 12, 8, 30)
    assert parse_cn_datetime("3小时前", now_utc) == sh(2024, 5, 13, 4, 0)


def test_other_zone() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    found = parse_cn_datetime("2024-03-05 14:02", NOW, tokyo)
    assert found == datetime(2024, 3, 5, 14, 2, tzinfo=tokyo) and found.tzinfo == tokyo


def test_year_less_date_with_clock_skew_stays_this_year() -> None:
    """A forum clock five minutes ahead of ours must not push today's post back a year."""
    assert parse_cn_datetime("05-13 16:05", NOW) == sh(2024, 5, 13, 16, 5)
    assert parse_cn_datetime("05-13 18:00", NOW) == sh(2023, 5, 13, 18, 0)
