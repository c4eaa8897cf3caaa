"""The triage commands as an operator types them, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
import typer
from typer.testing import CliRunner, Result

from crawler.cli_triage import alerts_app, audit_app, departments_app, users_app
from crawler.types import Hit, Item, TermMatch
from storage import db, queries


def make_app(db_url: str, config: Path) -> typer.Typer:
    """Mounted the way crawler.cli mounts them, with our own ``ctx.obj``."""
    app = typer.Typer()

    @app.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = SimpleNamespace(db_url=db_url, config=config)

    for sub, name in ((alerts_app, "alerts"), (audit_app, "audit"), (users_app, "users"),
                      (departments_app, "departments")):
        app.add_typer(sub, name=name)
    return app


@pytest.fixture
def yuqing(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    app = make_app(db_url, tmp_path)

    def run(*args: str, input: str | None = None, code: int = 0) -> Result:
        result = CliRunner().invoke(app, list(args), input=input, env={"COLUMNS": "250"})
        assert result.exit_code == code, result.output
        return result

    return run


def seed(db_url: str, grade: str, found: datetime) -> int:
    async def go() -> int:
        engine = db.make_engine(db_url)
        try:
            await db.upgrade(engine)
            item = Item(url="http://tieba.example.cn/p/1", source_id="tieba-hualong", title="化隆二幼孩子集体呕吐",
                        text="化隆二幼多名幼儿呕吐送医", fetched_at=found, author="家长甲")
            hit = Hit("food-safety", "安全生产", grade, (TermMatch("化隆二幼", "text", 0, 4),), "【化隆二幼】多名幼儿呕吐送医")
            async with db.sessionmaker(engine)() as s:
                stored = await queries.store_item(s, item, [hit], now=found, channels_for=lambda g: [])
            assert stored is not None
            return stored.alert_ids[0]
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_a_major_case_through_the_command_line(yuqing, db_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    yuqing("departments", "add", "保教处", "--contact", "王主任 0972-8888888", "--channel", "保教处邮箱")
    yuqing("departments", "add", "后勤处")
    yuqing("users", "add", "小李", "--role", "operator", "--password-stdin", "--email", "li@example.cn",
           input="correct horse battery\n")
    yuqing("users", "add", "王校长", "--role", "leader")
    yuqing("users", "add", "张老师", "--role", "department", "--department", "保教处")
    yuqing("users", "add", "刘师傅", "--role", "department", "--department", "后勤处")
    users = yuqing("users", "list").output
    assert "小李" in users and "已设密码" in users and "责任部门 department" in users and "保教处" in users
    assert "王主任 0972-8888888" in yuqing("departments", "list").output

    alert = seed(db_url, "重大", datetime.now(timezone.utc) - timedelta(hours=3))  # 3 h old: leader not told
    (late,) = json.loads(yuqing("alerts", "list", "--overdue", "--json").output)
    assert (late["id"], late["state"], late["state_label"], late["overdue"]) == (alert, "new", "待研判", ["report"])
    table = yuqing("alerts", "list").output
    assert "待研判" in table and "化隆二幼孩子集体呕吐" in table and "报告领导" in table

    a = str(alert)
    out = yuqing("alerts", "report", a, "--as", "小李", code=1).output
    assert "当前为「待研判」，不能上报领导" in out
    assert "待研判 → 研判中" in yuqing("alerts", "assess", a, "--as", "小李", "--note", "已截图备份").output
    assert "审计记录第" in yuqing("alerts", "emergency", a, "--as", "小李", "--note", "电话报告王校长").output
    yuqing("alerts", "report", a, "--as", "小李")
    yuqing("alerts", "dispatch", a, "--dept", "保教处", "--due", "24h", "--as", "王校长", "--note", "请核实")
    refused = yuqing("alerts", "reply", a, "--text", "已处理", "--as", "刘师傅", code=1).output
    assert "只能处理交办给本部门（后勤处）的告警" in refused
    assert "已交办 → 已反馈" in yuqing("alerts", "reply", a, "--text", "已送检留样", "--as", "张老师").output
    yuqing("alerts", "close", a, "--report", "经检测为病毒性肠胃炎，非食物中毒", "--as", "小李")

    shown = yuqing("alerts", "show", a).output
    for expected in ("告警 1 · 重大 · 已结案 · 紧急（小李", "链接：http://tieba.example.cn/p/1", "作者：家长甲",
                     "命中词：化隆二幼", "责任部门：保教处", "部门反馈：\n  已送检留样", "结案报告：",
                     "报告领导：", "（超时 ", "部门反馈：", "交办 保教处；期限 ", "；说明：请核实",
                     "王校长 交办 已上报 → 已交办", "可执行操作：无（已结束）"):
        assert expected in shown, expected
    assert yuqing("alerts", "list", "--overdue", "--json").output.strip() == "[]"
    (done,) = json.loads(yuqing("alerts", "list", "--state", "已结案", "--json").output)
    assert done["department"] == "保教处" and done["emergency"] is True

    verified = yuqing("audit", "verify").output
    assert "审计日志完整：共 12 条" in verified
    out_file = tmp_path / "督查" / "audit.csv"
    out_file.parent.mkdir()
    yuqing("audit", "export", "--out", str(out_file))
    raw = out_file.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert len(rows) == 13 and rows[0][0] == "序号" and rows[-1][4:7] == ["结案", "已反馈", "已结案"]
    assert yuqing("audit", "export").stdout_bytes == raw


def test_bad_input_gets_a_clear_answer(yuqing, db_url: str) -> None:  # type: ignore[no-untyped-def]
    yuqing("users", "add", "小李", "--role", "operator")
    assert "已存在" in yuqing("users", "add", "小李", "--role", "operator", code=1).output
    assert "未知角色" in yuqing("users", "add", "赵", "--role", "boss", code=1).output
    assert "部门「宣传部」不存在" in yuqing("users", "add", "赵", "--role", "department", "--department", "宣传部",
                                         code=1).output
    assert "至少 8 位" in yuqing("users", "add", "赵", "--role", "operator", "--password-stdin", input="123\n",
                                 code=1).output
    alert = str(seed(db_url, "一般", datetime.now(timezone.utc)))
    assert "告警 99 不存在" in yuqing("alerts", "show", "99", code=1).output
    assert "用户「无名氏」不存在" in yuqing("alerts", "assess", alert, "--as", "无名氏", code=1).output
    assert "未知状态" in yuqing("alerts", "list", "--state", "处理中", code=2).output
    yuqing("alerts", "assess", alert, "--as", "小李")
    yuqing("alerts", "grade", alert, "重大", "--as", "小李")
    yuqing("alerts", "report", alert, "--as", "小李")
    assert "请写单位" in yuqing("alerts", "dispatch", alert, "--dept", "x", "--due", "24", "--as", "小李", code=2).output
    assert "部门「x」不存在" in yuqing("alerts", "dispatch", alert, "--dept", "x", "--due", "2099-01-01 17:00",
                                    "--as", "小李", code=1).output
    assert "已过" in yuqing("alerts", "dispatch", alert, "--dept", "x", "--due", "2020-01-01T17:00+08:00",
                            "--as", "小李", code=1).output
    shown = yuqing("alerts", "show", alert).output
    assert "重大 · 已上报" in shown and "等级 一般 → 重大" in shown and "交办（yuqing alerts dispatch）" in shown
    assert yuqing("audit", "verify").output.startswith("审计日志完整：共 4 条")


def test_verify_fails_with_exit_1_when_an_entry_is_gone(yuqing, db_url: str) -> None:  # type: ignore[no-untyped-def]
    for name in ("甲", "乙", "丙"):
        yuqing("users", "add", name, "--role", "operator")

    async def tamper() -> None:
        from sqlalchemy import text

        engine = db.make_engine(db_url)
        async with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                await conn.execute(text("DROP TRIGGER audit_log_no_delete"))
            else:
                await conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            await conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
        await engine.dispose()

    asyncio.run(tamper())
    result = yuqing("audit", "verify", code=1)
    assert "第 2 条记录被删除 (entry 2 was deleted)" in result.stderr


def test_deadlines_and_channel_keys_come_from_alerts_yaml(db_url: str, tmp_path: Path) -> None:
    shipped = (Path(__file__).resolve().parents[2] / "alerts.yaml").read_text(encoding="utf-8")
    with_secret = shipped.replace("    # username: yuqing@example.cn\n    # password: ${YUQING_SMTP_PASSWORD}",
                                  "    username: yuqing@example.cn\n    password: ${YUQING_TEST_UNSET_SECRET}")
    assert with_secret != shipped  # the operator's shell lacks the daemon's secret: triage must not care
    (tmp_path / "alerts.yaml").write_text(with_secret + "\ndeadlines:\n  major_report: 30m\n", encoding="utf-8")
    app = make_app(db_url, tmp_path)
    runner = CliRunner()
    seed(db_url, "重大", datetime(2026, 6, 1, 1, 0, tzinfo=timezone.utc))
    listed = runner.invoke(app, ["alerts", "list", "--json"])
    assert json.loads(listed.stdout)[0]["deadlines"]["report"] == "2026-06-01T09:30:00+08:00" and not listed.stderr
    added = runner.invoke(app, ["departments", "add", "保教处", "--channel", "保教处邮箱", "--channel", "保卫处短信"])
    assert added.exit_code == 0 and "没有渠道「保卫处短信」" in added.stderr and "保教处邮箱" not in added.stderr

    (tmp_path / "alerts.yaml").write_text(shipped + "\ndeadlines:\n  major_report: soon\n", encoding="utf-8")
    listed = runner.invoke(app, ["alerts", "list", "--json"])
    line = len(shipped.splitlines()) + 3
    assert f"alerts.yaml:{line}: deadlines.major_report" in listed.stderr and "按默认值计算" in listed.stderr
    assert json.loads(listed.stdout)[0]["deadlines"]["report"] == "2026-06-01T11:00:00+08:00"
