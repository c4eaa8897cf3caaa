"""As a new user would: crawl the loopback site with ``yuqing crawl --once``, then ``yuqing report
daily`` (.xlsx) and ``yuqing report ledger`` (.docx) on the same database — SQLite and PostgreSQL —
and compare what the files say with the database."""

from __future__ import annotations

import asyncio
import io
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import docx
import openpyxl
from e2e_site import PAGES, serve_site, write_config, yuqing
from loopback import Site, SmtpReceiver, WebhookReceiver
from sqlalchemy import text
from typer.testing import CliRunner

from crawler import cli
from storage import db

CN = ZoneInfo("Asia/Shanghai")


def invoke(config: Path, data: Path, db_url: str, *args: str) -> str:
    """``yuqing --config C --data D --db URL …`` in this process (the crawl ran as its own process)."""
    result = CliRunner().invoke(cli.app, ["--config", str(config), "--data", str(data), "--db", db_url, *args],
                                env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.output


def test_crawl_then_report(db_url: str, tmp_path: Path) -> None:
    config, data = tmp_path / "config", tmp_path / "data"

    async def crawl() -> str:
        site, smtp, hook = await Site().start(), SmtpReceiver().start(), await WebhookReceiver().start()
        try:
            serve_site(site, list(PAGES))
            write_config(config, site, smtp, hook)
            with open(config / "alerts.yaml", "a", encoding="utf-8") as f:
                f.write("institution: 化隆县第二幼儿园\n")
            code, _out, err = await yuqing(config, data, "--db", db_url, "crawl", "--once")
            assert code == 0, err
            return site.base
        finally:
            await site.stop()
            smtp.stop()
            await hook.stop()

    base = asyncio.run(crawl())
    today = datetime.now(CN).date()
    xlsx_path, docx_path = tmp_path / "daily.xlsx", tmp_path / "ledger.docx"
    invoke(config, data, db_url, "report", "daily", "--format", "xlsx", "--out", str(xlsx_path))
    assert "缺口 0 处" in invoke(config, data, db_url, "report", "ledger", "--out", str(docx_path))
    counted = asyncio.run(count(db_url, today))
    by_grade, runs = counted

    book = openpyxl.load_workbook(io.BytesIO(xlsx_path.read_bytes()))
    assert book["说明"]["A2"].value == "编制单位：化隆县第二幼儿园"
    totals = list(book["等级类别"].iter_rows(values_only=True))[-1]
    assert sum(by_grade.values()) == 3  # the site's known answers: two 重大, one 一般
    assert totals == ("合计", by_grade.get("重大", 0), by_grade.get("一般", 0), sum(by_grade.values()))
    assert {row[6] for row in list(book["重点舆情"].iter_rows(values_only=True))[1:]} <= {
        f"{base}{p}" for p in ("/news/1.html", "/news/5.html", "/feed/a.html")}

    document = docx.Document(io.BytesIO(docx_path.read_bytes()))
    rows = [[c.text for c in row.cells] for row in document.tables[-1].rows]
    assert rows[0][:4] == ["日期", "时段", "来源", "巡查结果"]
    lines = {row[2]: row for row in rows[1:]}
    assert set(lines) == {"化隆新闻网", "化隆新闻 RSS", "已关闭的网站"} and {r[1] for r in rows[1:]} == {"全天"}
    assert lines["已关闭的网站"][3] == "失败" and runs["dead-site"][0] == "failed"
    assert lines["化隆新闻网"][3] == "正常" and int(lines["化隆新闻网"][6]) == runs["county-news"][1]
    assert lines["已关闭的网站"][10] and lines["已关闭的网站"][10] in (runs["dead-site"][2] or "")


async def count(db_url: str, today: date) -> tuple[dict[str, int], dict[str, tuple[str, int, str | None]]]:
    """Alerts by grade found today (reposts of an incident once) and each source's run, by SQL."""
    start = datetime.combine(today, datetime.min.time(), CN)
    engine = db.make_engine(db_url)
    try:
        async with engine.connect() as conn:
            bounds = {"s": start.astimezone(ZoneInfo("UTC")).replace(tzinfo=None),
                      "e": (start + timedelta(days=1)).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)}
            by_grade = dict((await conn.execute(text(
                """SELECT a.grade, count(*) FROM alerts a LEFT JOIN incidents n ON n.id = a.incident_id
                   WHERE (n.primary_alert_id IS NULL OR n.primary_alert_id = a.id)
                   AND a.created_at >= :s AND a.created_at < :e GROUP BY a.grade"""), bounds)).all())
            runs = {source: (status, items, error) for source, status, items, error in (await conn.execute(text(
                "SELECT source_id, status, items, error FROM runs"))).all()}
    finally:
        await engine.dispose()
    return by_grade, runs


def test_forms_and_reports_take_the_institution_from_alerts_yaml(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``institution:`` in alerts.yaml names the issuing unit; --institution still overrides it."""
    config, data = tmp_path / "config", tmp_path / "data"
    config.mkdir()
    (config / "alerts.yaml").write_text("institution: 化隆县第二幼儿园\nchannels: []\n", encoding="utf-8")
    form = tmp_path / "form.docx"
    invoke(config, data, world.url, "alerts", "form", str(world.alerts["food"]), "--out", str(form))
    head = "\n".join(p.text for p in docx.Document(io.BytesIO(form.read_bytes())).paragraphs[:3])
    assert "填报单位：化隆县第二幼儿园" in head
    daily = tmp_path / "daily.docx"
    invoke(config, data, world.url, "report", "daily", "--date", "2026-10-26", "--institution", "化隆县教育局",
           "--out", str(daily))
    head = "\n".join(p.text for p in docx.Document(io.BytesIO(daily.read_bytes())).paragraphs[:3])
    assert "编制单位：化隆县教育局" in head
