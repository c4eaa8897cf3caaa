"""The patrol ledger: every mandated window of every source over a range, gaps shown as gaps, the
person on duty and the sign-off line — through ``yuqing report ledger``, opened again and compared
with the runs table; and the ledger's pure rules (a window still open, one to come, a manual run)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import typer
from report_world import CN, NAMES, SOURCES, WINDOWS, World, at, docx_table, docx_text, sources_info, xlsx_sheet
from typer.testing import CliRunner

from alerts.reports.ledger import build_ledger
from alerts.reports.roster import Roster
from crawler.cli_reports import report_app
from storage import db
from storage.models import RunRow

SAMPLES = Path(__file__).resolve().parents[3] / "test-output" / "reports"


def write_sources(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    entries = "".join(f"  - id: {s}\n    name: {NAMES[s]}\n    type: rss\n    url: http://127.0.0.1:9/{s}.xml\n"
                      for s in SOURCES)
    (folder / "sources.yaml").write_text(
        f"timezone: Asia/Shanghai\nwindows: [{', '.join(WINDOWS)}]\nsources:\n{entries}", encoding="utf-8")
    (folder / "alerts.yaml").write_text("institution: 化隆县第二幼儿园\nchannels: []\n", encoding="utf-8")


def cli(world: World, config: Path, data: Path, *args: str) -> str:
    app = typer.Typer()

    @app.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = SimpleNamespace(db_url=world.url, config=config, data=data)

    app.add_typer(report_app, name="report")
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.output


def test_ledger_command_lists_every_window_and_the_gaps(world: World, tmp_path: Path) -> None:
    config, data = tmp_path / "config", tmp_path / "data"
    write_sources(config)
    out = cli(world, config, data, "report", "ledger", "--from", "2026-10-24", "--to", "2026-10-26")
    path = data / "reports" / "ledger" / "巡查台账-2026-10-24至2026-10-26.docx"
    assert str(path) in out.replace("\n", "") and "缺口 2 处" in out
    rows = docx_table(path.read_bytes(), "日期", "时段", "来源", "巡查结果")
    assert len(rows) == 3 * 2 * 3  # days × windows × sources: none left out
    gaps = [(r[0], r[1], r[2]) for r in rows if r[3] == "缺口（未巡查）"]
    assert gaps == [("10-25", "13:00-14:00", "化隆新闻网"), ("10-26", "16:00-17:00", "化隆新闻 RSS")]
    reasons = {r[3]: r[10] for r in rows}
    assert "无法连接" in reasons["失败"]
    assert {r[11] for r in rows if r[1] == "13:00-14:00"} == {"小李"} and {r[11] for r in rows if r[1] == "16:00-17:00"} == {"小王"}
    text = docx_text(path.read_bytes())
    assert "值班人：小李、小王" in text and "签字：" in text and "审核人：" in text and "化隆县第二幼儿园" in text

    xlsx = tmp_path / "ledger.xlsx"
    cli(world, config, data, "report", "ledger", "--from", "2026-10-24", "--to", "2026-10-26", "--format", "xlsx",
        "--out", str(xlsx))
    sheet = xlsx_sheet(xlsx.read_bytes(), "巡查台账")
    if "sqlite" in world.url:  # the sample set for a person to look at
        SAMPLES.mkdir(parents=True, exist_ok=True)
        (SAMPLES / path.name).write_bytes(path.read_bytes())
        (SAMPLES / path.with_suffix(".xlsx").name).write_bytes(xlsx.read_bytes())
    assert len(sheet) == 1 + 18
    counted = world_counts(world)
    for row in sheet[1:]:  # 日期 时段 来源 结果 抓取 失败 条目 新增 命中 告警 …
        key = (row[0], row[1], row[2])
        assert (row[6], row[7], row[8], row[9]) == counted.get(key, (0, 0, 0, 0)), key


def world_counts(world: World) -> dict[tuple[str, str, str], tuple[int, int, int, int]]:
    """Items, new items, hits and alerts per (day, window, source name), by SQL over runs and alerts."""
    import asyncio

    async def go() -> dict[tuple[str, str, str], tuple[int, int, int, int]]:
        engine = db.make_engine(world.url)  # this test's own loop: the fixture's engine belongs to another
        try:
            return await count(World(db.sessionmaker(engine), world.url))
        finally:
            await engine.dispose()

    async def count(world: World) -> dict[tuple[str, str, str], tuple[int, int, int, int]]:
        runs = await world.sql("SELECT id, source_id, window_start, window_end, items, new_items, hits FROM runs")
        alerts = dict(await world.sql(
            "SELECT i.run_id, count(a.id) FROM alerts a JOIN hits h ON h.id = a.hit_id JOIN items i ON i.id = h.item_id "
            "WHERE i.run_id IS NOT NULL GROUP BY i.run_id"))
        out: dict[tuple[str, str, str], tuple[int, int, int, int]] = {}
        for run_id, source, start, end, items, new, hits in runs:
            s = datetime.fromisoformat(str(start)).replace(tzinfo=timezone.utc).astimezone(CN)
            e = datetime.fromisoformat(str(end)).replace(tzinfo=timezone.utc).astimezone(CN)
            key = (f"{s:%m-%d}", f"{s:%H:%M}-{e:%H:%M}", NAMES[source])
            old = out.get(key, (0, 0, 0, 0))
            out[key] = (old[0] + items, old[1] + new, old[2] + hits, old[3] + alerts.get(run_id, 0))
        return out

    return asyncio.run(go())


def _run(run_id: int, source: str, start: datetime | None, started: datetime, status: str) -> RunRow:
    return RunRow(id=run_id, source_id=source, trigger="window" if start else "manual", window_start=start,
                  window_end=start + timedelta(hours=1) if start else None, started_at=started,
                  finished_at=started + timedelta(minutes=1), status=status, fetched=3, failed=0, items=3,
                  new_items=1, hits=0, error=None)


def test_windows_to_come_open_now_and_manual_runs() -> None:
    day = date(2026, 12, 2)
    now = at(day, "13:30")
    runs = [_run(1, "county-news", at(day, "13:00"), at(day, "13:00"), "ok"),
            _run(2, "county-rss", None, at(day, "09:15"), "ok")]  # yuqing crawl --once, outside any window
    lines = build_ledger(sources_info()[:2], runs, {1: 2}, Roster({("2026-12", "*"): "小张"}),
                         at(day, "00:00"), at(day + timedelta(days=1), "00:00"), now)
    status = {(line.window, line.source_id): line.status_label for line in lines}
    assert status == {("13:00-14:00", "county-news"): "正常", ("13:00-14:00", "county-rss"): "巡查中",
                      ("16:00-17:00", "county-news"): "未到时段", ("16:00-17:00", "county-rss"): "未到时段",
                      ("窗口外（手动）", "county-rss"): "正常"}
    assert {line.on_duty for line in lines} == {"小张"}
    assert next(line for line in lines if line.window == "13:00-14:00" and line.source_id == "county-news").alerts == 2
