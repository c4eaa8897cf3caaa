"""The periodic reports on a generated month, in both formats: each opened again (python-docx,
openpyxl) and its figures compared with counts taken by plain SQL on the same database."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from report_world import CN, NOW, World, by_first, context, docx_images, docx_table, docx_text, xlsx_sheet

from alerts.reports.figures import period_of
from alerts.reports.output import encode
from alerts.reports.periodic import periodic_report

SAMPLES = Path(__file__).resolve().parents[3] / "test-output" / "reports"
CASES = """FROM alerts a JOIN hits h ON h.id = a.hit_id JOIN items i ON i.id = h.item_id
           LEFT JOIN incidents n ON n.id = a.incident_id
           WHERE (n.primary_alert_id IS NULL OR n.primary_alert_id = a.id)"""
IN_PERIOD = " AND a.created_at >= :s AND a.created_at < :e"
OPEN = " AND a.state NOT IN ('closed', 'false_positive')"


async def generate(world: World, kind: str, day: date, request: pytest.FixtureRequest) -> tuple[bytes, bytes]:
    async with world.sessions() as s:
        report, _ = await periodic_report(s, kind, day, context())
    data = encode(report, "docx"), encode(report, "xlsx")
    if "sqlite" in request.node.name:  # the sample set for a person to look at
        SAMPLES.mkdir(parents=True, exist_ok=True)
        for fmt, blob in zip(("docx", "xlsx"), data, strict=True):
            (SAMPLES / report.file_name(fmt)).write_bytes(blob)
    return data


def span(kind: str, day: date) -> dict[str, datetime]:
    p = period_of(kind, day)
    return {"s": p.start, "e": p.end}


def int_rows(rows: list[list]) -> dict[object, list[int]]:
    return {k: [int(x) for x in v] for k, v in by_first(rows).items()}


async def test_daily(world: World, request: pytest.FixtureRequest) -> None:
    day = date(2026, 10, 26)
    docx, xlsx = await generate(world, "daily", day, request)
    p = span("daily", day)
    counted = await world.sql(f"SELECT h.category, a.grade, count(*) {CASES}{IN_PERIOD} GROUP BY h.category, a.grade", **p)
    expected: dict[str, Counter[str]] = {}
    for category, grade, n in counted:
        expected.setdefault(category, Counter())[grade] += n
    want = {c: [g["重大"], g["一般"], g["重大"] + g["一般"]] for c, g in expected.items()}
    total = [sum(v[0] for v in want.values()), sum(v[1] for v in want.values()), sum(v[2] for v in want.values())]
    assert total == [1, 2, 3]  # a 重大 incident (its reposts count once), an ordinary case, a 误报

    table = docx_table(docx, "类别", "重大", "一般", "合计")
    assert int_rows(table[:-1]) == want and table[-1] == ["合计", *map(str, total)]
    sheet = xlsx_sheet(xlsx, "等级类别")
    assert sheet[0] == ["类别", "重大", "一般", "合计"]
    assert int_rows(sheet[1:-1]) == want and sheet[-1] == ["合计", *total]

    open_ids = {row[0] for row in await world.sql(f"SELECT a.id {CASES}{OPEN}")}
    assert {int(r[0]) for r in docx_table(docx, "编号", "发现时间", "等级", "标题", "状态")} == open_ids
    assert {r[0] for r in xlsx_sheet(xlsx, "未办结案件")[1:]} == open_ids
    assert f"未办结案件 {len(open_ids)} 件" in docx_text(docx)

    top = xlsx_sheet(xlsx, "重点舆情")[1:]
    urls = {row[0] for row in await world.sql(f"SELECT i.url {CASES}{IN_PERIOD} AND a.state != 'false_positive'", **p)}
    assert {row[6] for row in top} == urls and top[0][2] == "重大"  # 重大 first, links to the pages

    ledger = xlsx_sheet(xlsx, "巡查台账")[1:]
    assert len(ledger) == 6  # 2 windows × 3 sources
    assert [r[1:4] for r in ledger if r[3] == "缺口（未巡查）"] == [["16:00-17:00", "化隆新闻 RSS", "缺口（未巡查）"]]
    assert {r[11] for r in ledger if r[1] == "13:00-14:00"} == {"小李"} and {r[11] for r in ledger if r[1] == "16:00-17:00"} == {"小王"}
    assert len(docx_images(docx)) == 1 and all(png[:8] == b"\x89PNG\r\n\x1a\n" for png in docx_images(docx))


async def test_weekly(world: World, request: pytest.FixtureRequest) -> None:
    day = date(2026, 10, 22)
    docx, xlsx = await generate(world, "weekly", day, request)
    p = span("weekly", day)
    by_category = dict(await world.sql(f"SELECT h.category, count(*) {CASES}{IN_PERIOD} GROUP BY h.category", **p))
    by_source = dict(await world.sql(f"SELECT i.source_id, count(*) {CASES}{IN_PERIOD} GROUP BY i.source_id", **p))
    total = sum(by_category.values())
    assert total == 5

    sheet = xlsx_sheet(xlsx, "分类统计")
    assert {r[0]: r[1] for r in sheet[1:-1]} == by_category and sheet[-1][:2] == ["合计", total]
    assert {r[0]: int(r[1]) for r in docx_table(docx, "类别", "条数", "占比")[:-1]} == by_category
    names = {"county-news": "化隆新闻网", "county-rss": "化隆新闻 RSS", "informant": "信息员报送"}
    assert {r[0]: r[1] for r in xlsx_sheet(xlsx, "来源统计")[1:-1]} == {names[k]: v for k, v in by_source.items()}

    on_time, late = (await world.sql(
        f"""SELECT sum(CASE WHEN l.at <= a.reply_due_at THEN 1 ELSE 0 END),
                   sum(CASE WHEN l.at > a.reply_due_at THEN 1 ELSE 0 END)
            {CASES}{IN_PERIOD} AND EXISTS (SELECT 1 FROM audit_log l2 WHERE l2.alert_id = a.id)
            AND a.id IN (SELECT alert_id FROM audit_log WHERE action = 'reply')""".replace(
            "FROM alerts a", "FROM audit_log l JOIN alerts a ON a.id = l.alert_id AND l.action = 'reply'", 1),
        **p))[0]
    timeliness = {r[0]: r[1:] for r in xlsx_sheet(xlsx, "处置时效")[1:]}
    assert timeliness["部门反馈"][:3] == [on_time + late, on_time, late] == [2, 1, 1]

    informants = await world.sql(
        """SELECT i.author, count(*), sum(CASE WHEN a.state IN ('reported','dispatched','replied','closed') THEN 1 ELSE 0 END)
           FROM alerts a JOIN hits h ON h.id = a.hit_id JOIN items i ON i.id = h.item_id
           WHERE i.source_id = 'informant' AND i.fetched_at >= :s AND i.fetched_at < :e GROUP BY i.author""", **p)
    assert [r[:3] for r in xlsx_sheet(xlsx, "信息员报送")[1:-1]] == [[a, n, int(c)] for a, n, c in informants] \
        == [["信息员陈", 2, 1]]
    assert docx_table(docx, "信息员", "报送", "确认")[0][:3] == ["信息员陈", "2", "1"]
    assert len(docx_images(docx)) == 2


async def test_monthly(world: World, request: pytest.FixtureRequest) -> None:
    day = date(2026, 10, 11)
    docx, xlsx = await generate(world, "monthly", day, request)
    p, before = span("monthly", day), span("monthly", date(2026, 9, 10))
    now = dict(await world.sql(f"SELECT h.category, count(*) {CASES}{IN_PERIOD} GROUP BY h.category", **p))
    last = dict(await world.sql(f"SELECT h.category, count(*) {CASES}{IN_PERIOD} GROUP BY h.category", **before))
    compare = {r[0]: r[1:] for r in xlsx_sheet(xlsx, "上月对比")[1:]}
    for category in {*now, *last}:
        assert compare[category] == [now.get(category, 0), last.get(category, 0), now.get(category, 0) - last.get(category, 0)]
    assert compare["合计"][:2] == [sum(now.values()), sum(last.values())] == [9, 2]

    ids = [row[0] for row in await world.sql(f"SELECT a.id {CASES}{IN_PERIOD} ORDER BY a.created_at, a.id", **p)]
    assert [r[0] for r in xlsx_sheet(xlsx, "案件清单")[1:]] == ids
    assert [int(r[0]) for r in docx_table(docx, "编号", "发现时间", "等级", "类别")] == ids

    # the ledger summary: every window of November has passed; runs exist on three days only
    patrolled = (await world.sql(
        """SELECT count(*) FROM (SELECT DISTINCT source_id, window_start FROM runs
           WHERE status IN ('ok','partial','failed') AND window_start >= :s AND window_start < :e) t""", **p))[0][0]
    failed = (await world.sql("SELECT count(*) FROM runs WHERE status = 'failed' AND window_start >= :s AND window_start < :e",
                              **p))[0][0]
    windows = 26 * 2 * 3  # the windows of October 1–26 have opened by NOW (the 27th, 10:00)
    total = xlsx_sheet(xlsx, "台账汇总")[-1]
    assert total[:5] == ["合计", windows, patrolled, windows - patrolled, failed] == ["合计", 156, 16, 140, 6]
    health = {r[0]: r[1:5] for r in xlsx_sheet(xlsx, "来源运行")[1:]}
    assert health["已关闭的网站"] == [52, 6, 46, 6]
    assert "值班人：小李、小王" in docx_text(docx)
    assert len(docx_images(docx)) == 2


async def test_annual(world: World, request: pytest.FixtureRequest) -> None:
    day = date(2026, 4, 27)
    docx, xlsx = await generate(world, "annual", day, request)
    p = span("annual", day)
    rows = await world.sql(
        f"""SELECT d.name, count(*), sum(CASE WHEN a.state = 'closed' THEN 1 ELSE 0 END)
            {CASES.replace('WHERE', 'JOIN departments d ON d.id = a.department_id WHERE')}{IN_PERIOD} GROUP BY d.name""", **p)
    in_time = dict(await world.sql(
        f"""SELECT d.name, count(*) {CASES.replace('WHERE', 'JOIN departments d ON d.id = a.department_id '
            "JOIN audit_log l ON l.alert_id = a.id AND l.action = 'reply' WHERE")}{IN_PERIOD}
            AND l.at <= a.reply_due_at GROUP BY d.name""", **p))
    overdue = dict(await world.sql(
        f"""SELECT d.name, count(*) {CASES.replace('WHERE', 'JOIN departments d ON d.id = a.department_id WHERE')}{IN_PERIOD}
            AND ((a.state IN ('dispatched') AND a.reply_due_at < :now) OR EXISTS (SELECT 1 FROM audit_log l
                 WHERE l.alert_id = a.id AND l.action = 'reply' AND l.at > a.reply_due_at)) GROUP BY d.name""",
        now=NOW, **p))
    sheet = {r[0]: r[1:] for r in xlsx_sheet(xlsx, "各部门处置")[1:]}
    for name, dispatched, closed in rows:
        assert sheet[name][0] == dispatched and sheet[name][2] == in_time.get(name, 0)
        assert sheet[name][3] == overdue.get(name, 0) and sheet[name][4] == closed
    assert sheet["保教处"][:5] == [2, 2, 1, 1, 2] and sheet["后勤处"][:5] == [3, 1, 1, 2, 1]
    table = {r[0]: r[1:] for r in docx_table(docx, "部门", "交办", "已反馈", "按时反馈")}
    assert table["保教处"][:5] == ["2", "2", "1", "1", "2"]

    per_month = await world.sql(f"SELECT h.category, a.created_at {CASES}{IN_PERIOD}", **p)
    expected: dict[str, list[int]] = {}
    for category, created in per_month:
        month = (datetime.fromisoformat(str(created)).replace(tzinfo=None) + timedelta(hours=8)).month  # stored naive UTC; Beijing is UTC+8
        expected.setdefault(category, [0] * 12)[month - 1] += 1
    trend = {r[0]: r[1:13] for r in xlsx_sheet(xlsx, "分类月度走势")[1:-1]}
    assert trend == expected
    assert len(docx_images(docx)) == 3
    assert NOW.tzinfo is CN
