"""Scheduled reports reach a real loopback SMTP server with the file attached — exactly once across
a restart, after retries when the server is down — and the monthly reminder reaches the person on
duty before the 10th."""

from __future__ import annotations

import io
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

import docx
import openpyxl
import pytest
from loopback import SmtpReceiver
from report_world import World, at, docx_table, sources_info

from alerts.config import AlertsFile
from alerts.outbox import Backoff
from alerts.reports.schedule import ReportService, ServiceSettings, last_fire

MINUTE = timedelta(minutes=1)


def settings(smtp: SmtpReceiver, *reports: dict[str, object]) -> ServiceSettings:
    alerts = AlertsFile.model_validate({
        "institution": "化隆县第二幼儿园",
        "channels": [{"type": "email", "name": "mail", "smtp_host": "127.0.0.1", "smtp_port": smtp.port,
                      "sender": "yuqing@localhost", "to": ["operator@localhost"], "timeout_s": 5}],
        "reports": list(reports)})
    return ServiceSettings(alerts, alerts.institution or "", sources_info())


def attachment(message: EmailMessage) -> tuple[str, bytes]:
    parts = [p for p in message.iter_attachments()]
    assert len(parts) == 1
    return parts[0].get_filename() or "", parts[0].get_content()


@pytest.fixture
def smtp() -> SmtpReceiver:
    receiver = SmtpReceiver().start()
    yield receiver
    receiver.stop()


DAILY = {"name": "日报", "kind": "daily", "cron": "30 17 * * *", "to": ["leader@localhost"]}


async def test_daily_report_mailed_once_across_a_restart(world: World, smtp: SmtpReceiver, tmp_path: Path) -> None:
    fire = at(date(2026, 10, 26), "17:30")
    config = settings(smtp, DAILY)
    first = ReportService(world.sessions, tmp_path / "data", lambda: config)
    assert await first.tick(fire - MINUTE) == 1  # before today's time: yesterday's, missed while down, goes out
    assert "2026-10-25" in smtp.messages[0]["Subject"]
    smtp.messages.clear()
    assert await first.tick(fire + MINUTE) == 1
    kept = tmp_path / "data" / "reports" / "daily" / "舆情日报-2026-10-26.docx"
    assert kept.exists()
    [message] = smtp.messages
    assert message["To"] == "leader@localhost" and "舆情日报" in message["Subject"] and "2026-10-26" in message["Subject"]
    name, data = attachment(message)
    assert name == kept.name and data == kept.read_bytes()
    totals = docx_table(data, "类别", "重大", "一般", "合计")[-1]
    assert totals == ["合计", "1", "2", "3"]
    docx.Document(io.BytesIO(data))  # a whole document, not a partial write

    restarted = ReportService(world.sessions, tmp_path / "data", lambda: config)  # a new process, the same database
    assert await restarted.tick(fire + 10 * MINUTE) == 0
    assert await restarted.tick(fire + 2 * 60 * MINUTE) == 0
    assert len(smtp.messages) == 1
    rows = await world.sql("SELECT period, status, attempts FROM report_deliveries WHERE schedule = '日报' ORDER BY period")
    assert rows[-1] == ("2026-10-26", "sent", 1)


async def test_retried_until_the_server_answers(world: World, smtp: SmtpReceiver, tmp_path: Path) -> None:
    smtp.stop()
    fire = at(date(2026, 10, 26), "17:30")
    config = settings(smtp, {**DAILY, "format": "xlsx"})
    service = ReportService(world.sessions, tmp_path / "data", lambda: config, backoff=Backoff(base_s=60, max_s=600))
    assert await service.tick(fire + MINUTE) == 0
    [(status, error)] = await world.sql("SELECT status, last_error FROM report_deliveries WHERE period = '2026-10-26'")
    assert status == "pending" and "127.0.0.1" in error
    smtp.start()
    assert await service.tick(fire + MINUTE + timedelta(seconds=40)) == 0  # still backing off (60 s ± 20 %)
    assert await service.tick(fire + 30 * MINUTE) == 1
    assert await service.tick(fire + 60 * MINUTE) == 0
    [message] = [m for m in smtp.messages if "2026-10-26" in m["Subject"]]
    name, data = attachment(message)
    assert name == "舆情日报-2026-10-26.xlsx"
    assert openpyxl.load_workbook(io.BytesIO(data))["等级类别"]["D5"].value == 3
    [(attempts,)] = await world.sql("SELECT attempts FROM report_deliveries WHERE period = '2026-10-26'")
    assert attempts == 2


async def test_monthly_summary_and_reminder_to_the_person_on_duty(world: World, smtp: SmtpReceiver,
                                                                  tmp_path: Path) -> None:
    monthly = {"name": "月报", "kind": "monthly", "cron": "0 9 5 * *", "remind": "0 9 3 * *",
               "to": ["leader@localhost"], "format": "xlsx"}
    config = settings(smtp, monthly)
    service = ReportService(world.sessions, tmp_path / "data", lambda: config)
    assert await service.tick(at(date(2026, 11, 3), "09:05")) == 1
    [reminder] = smtp.messages
    assert reminder["To"] == "xiaoli@localhost"  # 小李 is on duty in October and has an email address
    assert "2026年10月舆情月报须于11月10日前报送" in reminder["Subject"]
    assert "2026-11-05 09:00" in reminder.get_content() and not list(reminder.iter_attachments())
    assert "2026年10月值班人：小李、小王" in reminder.get_content()

    assert await service.tick(at(date(2026, 11, 5), "09:01")) == 1
    monthly_mail = smtp.messages[1]
    name, data = attachment(monthly_mail)
    assert name == "舆情月报-2026-10.xlsx" and monthly_mail["To"] == "leader@localhost"
    cases = openpyxl.load_workbook(io.BytesIO(data))["案件清单"]
    assert cases.max_row - 1 == 9
    assert await service.tick(at(date(2026, 11, 6), "09:01")) == 0 and len(smtp.messages) == 2


def test_last_fire_looks_back_a_week_at_most() -> None:
    assert last_fire("30 17 * * *", at(date(2026, 10, 26), "17:29")) == at(date(2026, 10, 25), "17:30")
    assert last_fire("0 9 5 * *", at(date(2026, 11, 20), "09:00")) is None  # missed too long ago: not made late


def test_monthly_report_after_the_10th_is_refused() -> None:
    with pytest.raises(ValueError, match="10日前"):
        AlertsFile.model_validate({"channels": [{"type": "email", "smtp_host": "h", "sender": "a@b.cn", "to": ["c@d.cn"]}],
                                   "reports": [{"kind": "monthly", "cron": "0 9 15 * *", "to": ["x@y.cn"]}]})


def test_the_commented_example_in_alerts_yaml_is_valid() -> None:
    """Uncommenting ``institution:`` and ``reports:`` in the shipped alerts.yaml gives a valid file."""
    import re

    import yaml

    text = (Path(__file__).resolve().parents[3] / "alerts.yaml").read_text(encoding="utf-8")
    tail = text[text.index("# institution:"):].splitlines()
    example = "\n".join(re.sub(r"^# ?", "", line) for line in tail
                        if line.startswith(("# institution", "# reports", "#   ")))
    alerts = AlertsFile.model_validate({**yaml.safe_load(text), **yaml.safe_load(example)})
    assert alerts.institution == "化隆县第二幼儿园"
    assert [(r.kind, r.covers) for r in alerts.reports] == [
        ("daily", "current"), ("weekly", "previous"), ("monthly", "previous"), ("annual", "previous")]


async def test_the_daemon_service_mails_from_the_live_configuration(db_url: str, smtp: SmtpReceiver,
                                                                    tmp_path: Path) -> None:
    """``report_service`` as ``yuqing run`` starts it: the App's configuration, the real clock, the data folder."""
    import asyncio
    from datetime import datetime

    from e2e_site import INSTITUTION, RULES
    from loopback import wait_for

    from alerts.deadlines import CHINA
    from crawler.app import App
    from crawler.cli_reports import report_service
    from crawler.config.loader import load_config

    config = tmp_path / "config"
    (config / "keywords").mkdir(parents=True)
    (config / "keywords" / "institution.yaml").write_text(INSTITUTION, encoding="utf-8")
    (config / "keywords" / "rules.yaml").write_text(RULES, encoding="utf-8")
    (config / "sources.yaml").write_text("timezone: Asia/Shanghai\nwindows: [13:00-14:00]\nsources:\n"
                                         "  - {id: county-rss, name: 化隆新闻 RSS, type: rss, url: 'http://127.0.0.1:9/rss.xml'}\n",
                                         encoding="utf-8")
    (config / "alerts.yaml").write_text(f"""\
institution: 化隆县第二幼儿园
channels:
  - {{type: email, name: mail, smtp_host: 127.0.0.1, smtp_port: {smtp.port}, sender: yuqing@localhost, to: [op@localhost]}}
reports:
  - {{name: 日报, kind: daily, cron: "* * * * *", to: [leader@localhost], format: xlsx}}
""", encoding="utf-8")
    app = await App.open(load_config(config), db_url, tmp_path / "data")
    stop = asyncio.Event()
    try:
        task = asyncio.ensure_future(report_service(app, tmp_path / "data")(stop))
        await wait_for(lambda: len(smtp.messages) >= 1, timeout_s=60)
        stop.set()
        await asyncio.wait_for(task, 10)
    finally:
        await app.close()
    today = datetime.now(CHINA).date().isoformat()
    name, data = attachment(smtp.messages[0])
    assert name == f"舆情日报-{today}.xlsx" and "化隆县第二幼儿园" in smtp.messages[0]["Subject"]
    assert (tmp_path / "data" / "reports" / "daily" / name).read_bytes() == data
