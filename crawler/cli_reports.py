"""``yuqing report | roster``: reports and statistics, the patrol ledger, the duty roster.

Typer sub-apps that crawler.cli mounts. The database comes from the main app's options
(``ctx.obj.db_url``), the sources (their windows, for the ledger) from ``sources.yaml`` and the
deadlines, the institution and the ``reports:`` schedules from ``alerts.yaml`` in ``ctx.obj.config``
— read without ``${VAR}`` expansion, as the triage commands do: reports need no secrets. Files go
to ``--out`` or under ``<data>/reports/<kind>/``. ``report_service`` wires the scheduled reports
into the daemon.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.config import AlertsFile
from alerts.deadlines import CHINA
from alerts.forms import DEFAULT_INSTITUTION
from alerts.reports.ledger import SourceInfo
from crawler.cli_triage import _alerts_file, _run
from crawler.config.sources import SourcesFile
from crawler.config.yamlfile import ConfigError, load_documents

if TYPE_CHECKING:
    from crawler.app import App
    from crawler.config.loader import Config

report_app = typer.Typer(help="报表：舆情日报/周报/月报/年度统计、舆情专报、巡查台账（Word .docx 或 Excel .xlsx）",
                         no_args_is_help=True)
roster_app = typer.Typer(help="值班表：每月轮换的值班人（巡查台账和月报提醒中署名）", no_args_is_help=True)
out = Console()

Format = Annotated[str, typer.Option("--format", "-f", help="docx（公文格式）| xlsx（每表一页）")]
Out = Annotated[Optional[Path], typer.Option("--out", "-o", help="输出文件；默认 DATA/reports/<类型>/<标题-期号>.<格式>")]
Day = Annotated[Optional[str], typer.Option("--date", help="所在报告期的任一天 YYYY-MM-DD；默认今天（北京时间）")]
Institution = Annotated[Optional[str], typer.Option(
    "--institution", envvar="YUQING_INSTITUTION", help="编制单位；默认 alerts.yaml 的 institution")]


# --- configuration ---------------------------------------------------------------------------------

def sources_info(sources: SourcesFile) -> tuple[SourceInfo, ...]:
    """The enabled sources with their mandated windows: what the ledger checks the runs against."""
    return tuple(SourceInfo(s.id, s.display_name, sources.schedule(s)) for s in sources.sources if s.enabled)


def _sources(ctx: typer.Context) -> tuple[SourceInfo, ...]:
    path: Path = ctx.obj.config / "sources.yaml"
    try:
        docs = load_documents(path) if path.exists() else []
        if len(docs) != 1 or not isinstance(docs[0].data, dict):
            raise ConfigError([])
        return sources_info(SourcesFile.model_validate(docs[0].data))
    except (ConfigError, ValidationError, OSError):
        typer.secho(f"警告：无法读取 {path}，巡查台账中没有规定时段 (sources.yaml missing or invalid: no windows)",
                    err=True, fg="yellow")
        return ()


def institution_of(flag: str | None, alerts: AlertsFile | None) -> str:
    """--institution / YUQING_INSTITUTION, else alerts.yaml's ``institution``, else 本单位."""
    return (flag or "").strip() or (alerts.institution if alerts and alerts.institution else DEFAULT_INSTITUTION)


def _context(ctx: typer.Context, institution: str | None):  # type: ignore[no-untyped-def]
    from alerts.reports.periodic import ReportContext

    alerts = _alerts_file(ctx)
    return ReportContext(institution_of(institution, alerts), _sources(ctx),
                         alerts.deadlines if alerts else AlertsFile().deadlines, datetime.now(timezone.utc))


def _day(value: str | None, option: str = "--date") -> date:
    if value is None:
        return datetime.now(CHINA).date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"日期应为 YYYY-MM-DD (got {value!r})", param_hint=option) from None


def _format(value: str) -> str:
    value = value.lower().lstrip(".")
    if value not in ("docx", "xlsx"):
        raise typer.BadParameter("可选 docx 或 xlsx", param_hint="--format")
    return value


def _save(ctx: typer.Context, report: object, fmt: str, target: Path | None) -> Path:
    from alerts.reports.output import encode, keep

    data = encode(report, fmt)  # type: ignore[arg-type]
    if target is None:
        return keep(data, ctx.obj.data, report, fmt)  # type: ignore[arg-type]
    try:
        target.write_bytes(data)
    except OSError as exc:
        typer.secho(f"错误：无法写入 {target}：{exc.strerror or exc} (cannot write the file)", err=True, fg="red")
        raise typer.Exit(1) from None
    return target


# --- yuqing report ---------------------------------------------------------------------------------

def _periodic(ctx: typer.Context, kind: str, day: str | None, fmt: str, target: Path | None,
              institution: str | None) -> None:
    from alerts.reports.periodic import periodic_report

    fmt, when, context = _format(fmt), _day(day), _context(ctx, institution)
    report, figures = _run(ctx, lambda s: periodic_report(s, kind, when, context))
    path = _save(ctx, report, fmt, target)
    out.print(f"已生成《{report.title}》{report.period}：{path}", highlight=False)
    out.print(f"舆情 {figures.total} 条（重大 {figures.by_grade['重大']}，一般 {figures.by_grade['一般']}），"
              f"未办结 {len(figures.open_cases)} 件，超期 {len(figures.overdue_cases)} 件", highlight=False)


@report_app.command("daily")
def daily(ctx: typer.Context, day: Day = None, fmt: Format = "docx", target: Out = None,
          institution: Institution = None) -> None:
    """舆情日报（给领导）：新增舆情按等级和类别、未办结和超期案件、重点舆情及链接、当日巡查情况。"""
    _periodic(ctx, "daily", day, fmt, target, institution)


@report_app.command("weekly")
def weekly(ctx: typer.Context, day: Day = None, fmt: Format = "docx", target: Out = None,
           institution: Institution = None) -> None:
    """舆情周报（周一至周日）：按类别和来源统计、处置时效、信息员报送统计。"""
    _periodic(ctx, "weekly", day, fmt, target, institution)


@report_app.command("monthly")
def monthly(ctx: typer.Context, day: Day = None, fmt: Format = "docx", target: Out = None,
            institution: Institution = None) -> None:
    """舆情月报（次月10日前报送）：本月案件、与上月对比、来源运行情况、巡查台账汇总、值班小结。"""
    _periodic(ctx, "monthly", day, fmt, target, institution)


@report_app.command("annual")
def annual(ctx: typer.Context, day: Day = None, fmt: Format = "docx", target: Out = None,
           institution: Institution = None) -> None:
    """年度统计（年终考核）：各部门交办、按时反馈、超期、结案，各类舆情月度走势。"""
    _periodic(ctx, "annual", day, fmt, target, institution)


@report_app.command("incident")
def incident(ctx: typer.Context, incident_id: Annotated[int, typer.Argument(metavar="ID", help="事件编号")],
             fmt: Format = "docx", target: Out = None, institution: Institution = None) -> None:
    """舆情专报（一个事件）：事件概况、传播路径与时间线、研判、处置措施及结果、效果评估。"""
    from alerts.reports.special import special_report

    fmt, context = _format(fmt), _context(ctx, institution)
    names = {s.source_id: s.name for s in context.sources}
    report, file = _run(ctx, lambda s: special_report(s, incident_id, institution=context.institution, names=names,
                                                      now=context.now))
    path = _save(ctx, report, fmt, target)
    out.print(f"已生成《{report.title}》事件 {incident_id}：{path}（转载 {max(1, len(file.copies))} 处）", highlight=False)


@report_app.command("ledger")
def ledger(
    ctx: typer.Context,
    first: Annotated[Optional[str], typer.Option("--from", help="起始日期 YYYY-MM-DD；默认今天")] = None,
    last: Annotated[Optional[str], typer.Option("--to", help="截止日期 YYYY-MM-DD（含）；默认同 --from")] = None,
    fmt: Format = "docx", target: Out = None, institution: Institution = None,
) -> None:
    """巡查台账：每个规定时段、每个来源的巡查结果（抓取/失败原因、条目、新增、命中、告警）、值班人、签字栏；缺口如实列出。"""
    from alerts.reports.periodic import ledger_report

    start = _day(first, "--from")
    end = _day(last, "--to") if last else start
    if end < start:
        raise typer.BadParameter("截止日期早于起始日期", param_hint="--to")
    fmt, context = _format(fmt), _context(ctx, institution)
    report, lines = _run(ctx, lambda s: ledger_report(s, start, end, context))
    path = _save(ctx, report, fmt, target)
    gaps = sum(line.gap for line in lines)
    out.print(f"已生成《巡查台账》{report.period}：{path}（{len(lines)} 行，缺口 {gaps} 处）", highlight=False)


@report_app.command("schedules")
def schedules(ctx: typer.Context) -> None:
    """列出 alerts.yaml 中的定时报表及下次生成时间，和已发送的记录。"""
    from alerts.reports.schedule import schedules_summary
    from storage import reports as store

    alerts = _alerts_file(ctx)
    table = Table(title="定时报表 report schedules")
    for column in ("计划", "报表", "下次生成（北京时间）"):
        table.add_column(column)
    for row in schedules_summary(alerts.reports if alerts else [], datetime.now(timezone.utc)):
        table.add_row(*row)
    out.print(table)
    rows = _run(ctx, store.report_deliveries)
    sent = Table(title="发送记录 deliveries")
    for column in ("计划", "期号", "状态", "尝试", "文件", "错误"):
        sent.add_column(column, overflow="fold")
    for r in rows:
        sent.add_row(r.schedule, r.period, r.status, str(r.attempts), r.path or "—", r.last_error or "")
    out.print(sent)


# --- yuqing roster ---------------------------------------------------------------------------------

@roster_app.command("set")
def roster_set(
    ctx: typer.Context,
    person: Annotated[str, typer.Argument(help="值班人姓名（最好与 yuqing users 中的用户名一致，以便邮件提醒）")],
    month: Annotated[str, typer.Option("--month", help="月份 YYYY-MM")],
    window: Annotated[str, typer.Option("--window", help="时段，如 13:00-14:00；默认 *（本月全部时段）")] = "*",
) -> None:
    """设置某月（某时段）的值班人，覆盖原有安排。"""
    from alerts.reports.roster import month_key, set_duty, window_key

    try:
        month, window = month_key(month), window_key(window)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    _run(ctx, lambda s: set_duty(s, month, window, person, datetime.now(timezone.utc)))
    out.print(f"{month} {'全部时段' if window == '*' else window} 值班人：{person}", highlight=False)


@roster_app.command("import")
def roster_import(
    ctx: typer.Context,
    path: Annotated[Optional[Path], typer.Argument(help="值班表文件；默认 配置目录/duty.yaml")] = None,
) -> None:
    """从 duty.yaml 导入按月轮换的值班表（覆盖文件所涉月份的原有安排）。"""
    from alerts.reports.roster import import_duty, load_duty_file

    source = path or ctx.obj.config / "duty.yaml"
    if not source.exists():
        typer.secho(f"错误：找不到 {source} (file not found)", err=True, fg="red")
        raise typer.Exit(1)
    try:
        duty = load_duty_file(source)
    except ConfigError as exc:
        for issue in exc.issues:
            typer.echo(str(issue), err=True)
        raise typer.Exit(1) from None
    n = _run(ctx, lambda s: import_duty(s, duty, datetime.now(timezone.utc)))
    out.print(f"已导入值班表 {source}：{duty.start} 起 {duty.months} 个月，{n} 条", highlight=False)


@roster_app.command("show")
def roster_show(
    ctx: typer.Context,
    month: Annotated[Optional[str], typer.Option("--month", help="只看这个月 YYYY-MM")] = None,
) -> None:
    """显示值班表。"""
    from alerts.reports.roster import month_key
    from storage import reports as store

    months = None
    if month:
        try:
            months = [month_key(month)]
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--month") from None

    async def load(session: AsyncSession) -> list[tuple[str, str, str]]:
        return [(r.month, r.window, r.person) for r in await store.duty_entries(session, months)]

    rows = _run(ctx, load)
    table = Table(title="值班表 duty roster")
    for column in ("月份", "时段", "值班人"):
        table.add_column(column)
    for m, w, p in rows:
        table.add_row(m, "全部时段" if w == "*" else w, p)
    out.print(table)
    if not rows:
        out.print("（尚未排班：yuqing roster set 或 yuqing roster import duty.yaml）")


# --- the daemon ------------------------------------------------------------------------------------

def report_service(app: App, data_dir: Path) -> Callable[[asyncio.Event], Awaitable[None]]:
    """The scheduled reports as a daemon service: reads the app's current configuration each round."""
    from alerts.reports.schedule import ReportService, ServiceSettings

    def settings() -> ServiceSettings:
        config: Config = app.config
        return ServiceSettings(config.alerts, institution_of(config.environ.get("YUQING_INSTITUTION"), config.alerts),
                               sources_info(config.sources))

    return ReportService(app.sessions, data_dir, settings).run
