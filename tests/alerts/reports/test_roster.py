"""The duty roster: imported from duty.yaml (monthly rotation, a window of its own), set by hand,
shown, and looked up by the ledger; a bad file is refused with its line."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import SimpleNamespace

import typer
from typer.testing import CliRunner, Result

from alerts.reports.roster import Roster
from crawler.cli_reports import roster_app

DUTY = """\
start: 2026-11
months: 3
rotation: [小李, 小王]
windows:
  "16:00-17:00": [小张]
"""


def cli(db_url: str, config: Path, *args: str, code: int = 0) -> Result:
    app = typer.Typer()

    @app.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = SimpleNamespace(db_url=db_url, config=config, data=config / "data")

    app.add_typer(roster_app, name="roster")
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})
    assert result.exit_code == code, result.output
    return result


def test_import_rotate_set_show(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "duty.yaml").write_text(DUTY, encoding="utf-8")
    assert "6 条" in cli(db_url, tmp_path, "roster", "import").output
    shown = cli(db_url, tmp_path, "roster", "show").output
    rows = [line.split("│")[1:4] for line in shown.splitlines() if line.startswith("│")]
    assert [[c.strip() for c in r] for r in rows] == [
        ["2026-11", "全部时段", "小李"], ["2026-11", "16:00-17:00", "小张"],
        ["2026-12", "全部时段", "小王"], ["2026-12", "16:00-17:00", "小张"],
        ["2027-01", "全部时段", "小李"], ["2027-01", "16:00-17:00", "小张"]]
    cli(db_url, tmp_path, "roster", "set", "小赵", "--month", "2026-12", "--window", "13:00-14:00")
    cli(db_url, tmp_path, "roster", "set", "小陈", "--month", "2026-12")  # replaces 小王 for the month
    december = cli(db_url, tmp_path, "roster", "show", "--month", "2026-12").output
    assert "小赵" in december and "小陈" in december and "小王" not in december and "2026-11" not in december


def test_lookup_prefers_the_window() -> None:
    roster = Roster({("2026-11", "*"): "小李", ("2026-11", "16:00-17:00"): "小张"})
    assert roster.on_duty(date(2026, 11, 3), "16:00-17:00") == "小张"
    assert roster.on_duty(date(2026, 11, 3), "13:00-14:00") == "小李"
    assert roster.on_duty(date(2026, 12, 3), "13:00-14:00") is None
    assert roster.people("2026-11") == ["小李", "小张"]


def test_bad_duty_file_names_the_line(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "duty.yaml").write_text("start: 2026-13\nrotation: [小李]\nshift: day\n", encoding="utf-8")
    result = cli(db_url, tmp_path, "roster", "import", code=1)
    assert "duty.yaml:1" in result.output and "duty.yaml:3" in result.output and "shift" in result.output
