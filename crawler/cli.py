"""The ``yuqing`` command line."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Optional
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from crawler.app import App, data_db_url
from crawler.cli_console import register as register_console
from crawler.cli_incidents import incidents_app
from crawler.cli_rules import rules_app
from crawler.cli_reports import report_app, report_service, roster_app
from crawler.cli_triage import alerts_app, audit_app, departments_app, users_app
from crawler.config.loader import Config, load_config
from crawler.config.yamlfile import ConfigError
from crawler.logs import setup_logging
from crawler.memory import cap_malloc_arenas, keep_trimmed, release_freed_memory

app = typer.Typer(help="yuqing 舆情监测：按规定时段巡查论坛、贴吧和新闻网站，命中规则即告警。", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
db_app = typer.Typer(help="数据库 database maintenance", no_args_is_help=True)
app.add_typer(db_app, name="db")
evidence_app = typer.Typer(help="证据：核验与导出 evidence bundles", no_args_is_help=True)
app.add_typer(evidence_app, name="evidence")
app.add_typer(alerts_app, name="alerts")
app.add_typer(incidents_app, name="incidents")
app.add_typer(audit_app, name="audit")
app.add_typer(users_app, name="users")
app.add_typer(departments_app, name="departments")
app.add_typer(rules_app, name="rules")
app.add_typer(report_app, name="report")
app.add_typer(roster_app, name="roster")
leads_app = typer.Typer(help="信息员线索：QQ群、微信等无法抓取的内容，手工报送后进入同一处置流程", no_args_is_help=True)
app.add_typer(leads_app, name="leads")
register_console(app)
out = Console()
err = Console(stderr=True)


class Paths:
    def __init__(self, config: Path, data: Path, db: str | None, log_level: str) -> None:
        self.config, self.data, self.db, self.log_level = config, data, db, log_level

    @property
    def db_url(self) -> str:
        return data_db_url(self.data, self.db)


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[Path, typer.Option("--config", help="配置目录 (sources.yaml, keywords/, alerts.yaml)")] = Path("."),
    data: Annotated[Path, typer.Option("--data", envvar="YUQING_DATA", help="数据目录：数据库与证据")] = Path("data"),
    db: Annotated[Optional[str], typer.Option("--db", envvar="YUQING_DB", help="数据库 URL，默认 DATA/yuqing.db (SQLite)")] = None,
    log_level: Annotated[str, typer.Option("--log-level", envvar="YUQING_LOG_LEVEL")] = "INFO",
) -> None:
    ctx.obj = Paths(config, data, db, log_level.upper())


def _load(paths: Paths) -> Config:
    try:
        config = load_config(paths.config)
    except ConfigError as exc:
        for issue in exc.issues:  # plain lines, never wrapped: editors and scripts parse file:line
            typer.echo(str(issue), err=True)
        err.print(f"配置有 {len(exc.issues)} 处错误 (configuration has {len(exc.issues)} error(s))", style="red")
        raise typer.Exit(1) from None
    for warning in config.warnings:
        typer.echo(f"警告 warning: {warning}", err=True)
    return config


@app.command()
def check(ctx: typer.Context) -> None:
    """检查配置：列出来源、规则、告警渠道和每个来源的下一个巡查时段。"""
    from crawler.adapters import ADAPTERS
    from crawler.match import Ruleset

    config = _load(ctx.obj)
    Ruleset.compile(config.keywords)
    tz = ZoneInfo(config.sources.timezone)
    now = datetime.now(timezone.utc)
    table = Table(title=f"来源 sources ({len(config.sources.sources)})")
    for column in ("id", "类型", "名称", "时段 windows", "间隔", "下一次巡查 next window"):
        table.add_column(column)
    for source in config.sources.sources:
        schedule = config.sources.schedule(source)
        nxt = schedule.next_window(now)
        windows = "always" if schedule.always else ", ".join(str(w) for w in schedule.windows)
        when = "（已停用 disabled）" if not source.enabled else (
            f"{nxt.start.astimezone(tz):%Y-%m-%d %H:%M}–{nxt.end.astimezone(tz):%H:%M}" if nxt else "—")
        if schedule.always and source.enabled:
            when = "持续 always"
        table.add_row(source.id, source.type, source.display_name, windows, f"{schedule.every_s:g}s", when)
    out.print(table)
    for source in config.enabled_sources():
        if source.type not in ADAPTERS:
            typer.echo(f"警告 warning: sources.yaml: {source.id}: 类型 {source.type} 的适配器尚未实现，巡查会记为失败",
                       err=True)
    _check_browser(config)
    groups = config.keywords.groups
    out.print(f"关键词组 groups: {len(groups)} ({', '.join(groups)})")
    out.print(f"规则 rules: {len(config.keywords.rules)} ({', '.join(r.id for r in config.keywords.rules)})")
    channels = config.alerts.channels
    out.print(f"告警渠道 channels: {len(channels)} ({', '.join(c.key for c in channels) or '无 none'})")
    out.print(f"时区 timezone: {config.sources.timezone}")
    out.print("[green]配置有效 configuration OK[/green]")


def _check_browser(config: Config) -> None:
    """Sources with render/screenshot need Chromium and Playwright: say so now, not at 13:00."""
    from crawler.fetch.browser import BrowserSettings, browser_problem

    needing = [s.id for s in config.enabled_sources() if config.sources.needs_browser(s)]
    if not needing:
        return
    settings = BrowserSettings.from_config(config.sources.browser)
    problem = browser_problem(settings)
    if problem is not None:
        typer.echo(f"错误 error: sources.yaml: {', '.join(needing)}: 需要浏览器 (render/screenshot): {problem}", err=True)
        raise typer.Exit(1)
    out.print(f"浏览器 browser: {settings.resolved_executable()}（{', '.join(needing)}）", highlight=False)


@app.command()
def run(
    ctx: typer.Context,
    web: Annotated[bool, typer.Option("--web", help="同时启动网页工作台（同 yuqing serve）")] = False,
    host: Annotated[str, typer.Option("--host", help="工作台监听地址（--web）")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="工作台监听端口（--web）")] = 8080,
) -> None:
    """启动守护进程（前台运行）：按时段巡查并推送告警；SIGTERM/Ctrl-C 平稳退出，SIGHUP 重新加载配置。"""
    from crawler.cli_console import desk_service
    from crawler.daemon import Daemon

    paths: Paths = ctx.obj
    config = _load(paths)
    setup_logging(paths.log_level, config.sources.timezone)
    cap_malloc_arenas()  # before the database threads start

    async def main_() -> None:
        app_ = await App.open(config, paths.db_url, paths.data)
        release_freed_memory()  # what start-up left behind, before a daemon's years
        try:
            services = [desk_service(app_, paths.data, host, port)] if web else []
            await Daemon(app_, paths.config, [*services, report_service(app_, paths.data), keep_trimmed]).run()
        finally:
            await app_.close()

    asyncio.run(main_())


@app.command()
def crawl(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="每个来源立即抓取一次后退出（忽略时段）")] = False,
    source: Annotated[Optional[str], typer.Option("--source", help="只抓取这个来源 id")] = None,
) -> None:
    """立即巡查一次所选来源，投递告警后退出。"""
    if not once:
        err.print("请加 --once（持续运行请用 yuqing run）")
        raise typer.Exit(2)
    paths: Paths = ctx.obj
    config = _load(paths)
    selected = config.enabled_sources(source)
    if not selected:
        err.print(f"没有这个来源 no such enabled source: {source}")
        raise typer.Exit(1)
    interactive = sys.stderr.isatty()
    setup_logging("WARNING" if interactive else paths.log_level, config.sources.timezone)
    from crawler.crawl_once import crawl_once

    cap_malloc_arenas()  # before the database threads start
    summary = asyncio.run(crawl_once(config, paths.db_url, paths.data, selected, progress=interactive))
    table = Table(title="巡查结果 crawl results")
    for column in ("来源", "状态", "抓取", "失败", "条目", "新增", "命中", "错误"):
        table.add_column(column)
    for source_id, (status, stats) in summary.runs.items():
        table.add_row(source_id, status, str(stats.fetched), str(stats.failed), str(stats.items),
                      str(stats.new_items), str(stats.hits), "; ".join(stats.errors)[:200])
    out.print(table)
    out.print(f"告警投递 deliveries: 已发送 sent {summary.sent}，待重试 pending {summary.pending}")


@app.command("sources")
def sources_status(
    ctx: typer.Context,
    days: Annotated[int, typer.Option("--days", min=1, help="统计最近几天的巡查")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """列出每个来源：最近一次巡查的时间、状态、抓取/失败页数、条目、新条目、命中和原因，以及近几天的巡查和失败次数。"""
    from crawler.health import source_health
    from storage import db, reports

    paths: Paths = ctx.obj
    config = _load(paths)
    tz = ZoneInfo(config.sources.timezone)
    now = datetime.now(timezone.utc)
    since = now - timedelta(days=days)
    runs = asyncio.run(db.run_once(paths.db_url, lambda session: reports.runs_between(session, since, now)))
    health = source_health((s.id for s in config.sources.sources), runs)
    rows = []
    for source in config.sources.sources:
        h, schedule = health[source.id], config.sources.schedule(source)
        nxt = schedule.next_window(now) if source.enabled else None
        state = "已停用" if not source.enabled else {None: "未巡查", True: "正常", False: "异常"}[h.healthy]
        rows.append((source, h, state, nxt))
    if as_json:
        typer.echo(json.dumps([{
            "id": source.id, "name": source.display_name, "type": source.type, "state": state,
            "last_run": None if h.last is None else {
                "started_at": h.last.started_at.astimezone(tz).isoformat(),
                "status": h.last.status, "fetched": h.last.fetched, "failed": h.last.failed, "items": h.last.items,
                "new_items": h.last.new_items, "hits": h.last.hits, "error": h.last.error},
            "runs": h.runs, "failed_runs": h.failed,
            "next_window": nxt.start.astimezone(tz).isoformat() if nxt else None,
        } for source, h, state, nxt in rows], ensure_ascii=False, indent=2))
        return
    table = Table(title=f"来源 sources（最近 {days} 天）")
    for column in ("id", "名称", "状态", "最近巡查", "结果", "页数 成功/失败", "条目", "新条目", "命中", "原因",
                   f"{days} 天巡查/失败", "下一时段"):
        table.add_column(column, overflow="fold")
    for source, h, state, nxt in rows:
        last = h.last
        table.add_row(
            source.id, source.display_name, state,
            f"{last.started_at.astimezone(tz):%m-%d %H:%M}" if last else "—",
            last.status if last else "—", f"{last.fetched}/{last.failed}" if last else "—",
            str(last.items) if last else "—", str(last.new_items) if last else "—", str(last.hits) if last else "—",
            (last.error or "") if last else "", f"{h.runs}/{h.failed}",
            f"{nxt.start.astimezone(tz):%m-%d %H:%M}" if nxt else "—")
    out.print(table)


@app.command("test-source")
def test_source(
    ctx: typer.Context,
    source_id: Annotated[Optional[str], typer.Argument(help="sources.yaml 里的来源 id")] = None,
    url: Annotated[Optional[str], typer.Option("--url", help="不写进配置，直接试一个网址")] = None,
    kind: Annotated[str, typer.Option("--type", help="与 --url 一起用：rss | news | html | …")] = "news",
    link_selector: Annotated[Optional[str], typer.Option("--link-selector")] = None,
    render: Annotated[bool, typer.Option("--render", help="与 --url 一起用：用无头浏览器打开页面（同 render: true）")] = False,
    limit: Annotated[int, typer.Option("--limit", help="最多抓取的文章数")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """试抓一个来源：真实抓取、解析和匹配，结果写入临时数据库，不影响正式数据、不发告警。"""
    from pydantic import ValidationError

    from crawler.config.sources import SourceSpec
    from crawler.probe import probe_source

    paths: Paths = ctx.obj
    config = _load(paths)
    if url:
        try:
            source = SourceSpec(id="test-source", type=kind, url=url, link_selector=link_selector, render=render)
        except ValidationError as exc:
            typer.echo(f"参数有误 invalid: {exc.errors()[0]['msg']}", err=True)
            raise typer.Exit(2) from None
    else:
        source = next((s for s in config.sources.sources if s.id == source_id), None)
        if source is None:
            typer.echo(f"没有这个来源 no such source: {source_id}", err=True)
            raise typer.Exit(2)
    setup_logging("WARNING", config.sources.timezone)
    probe = asyncio.run(probe_source(config, source.model_copy(update={"max_items": limit})))
    if as_json:
        typer.echo(json.dumps(asdict(probe), ensure_ascii=False, indent=2, default=str))
    else:
        tz = ZoneInfo(config.sources.timezone)
        out.print(f"来源 {probe.source_id}：{probe.status}，抓取 {probe.fetched}，失败 {probe.failed}，条目 {len(probe.items)}")
        for error in probe.errors:
            out.print(f"  错误 {error}", style="red", markup=False)
        for item in probe.items:
            when = f"{item.published_at.astimezone(tz):%Y-%m-%d %H:%M}" if item.published_at else "—"
            hit = f"  命中 {','.join(item.rules)}" if item.rules else ""
            out.print(f"\n{item.title}  {item.author or ''} {when}{hit}", style="bold", markup=False, highlight=False)
            out.print(f"{item.url}\n{item.text[:300]}", markup=False, highlight=False)
    if probe.status == "failed":
        raise typer.Exit(1)


@app.command()
def hits(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
    limit: Annotated[int, typer.Option("--limit")] = 100,
    source: Annotated[Optional[str], typer.Option("--source")] = None,
) -> None:
    """列出命中：链接、标题、来源、规则、类别、等级、命中词、摘要、发现时间。"""
    from storage import db, queries

    paths: Paths = ctx.obj
    tz_name = "Asia/Shanghai"
    if (paths.config / "sources.yaml").exists():
        try:
            tz_name = load_config(paths.config).sources.timezone
        except ConfigError:
            pass
    tz = ZoneInfo(tz_name)

    rows = asyncio.run(db.run_once(paths.db_url, lambda session: queries.list_hits(session, limit, source)))
    if as_json:
        data = [{**asdict(r), "found_at": r.found_at.astimezone(tz).isoformat()} for r in rows]
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"命中 hits ({len(rows)})")
    for column in ("发现时间", "等级", "类别", "规则", "来源", "标题", "命中词", "摘要", "链接"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(f"{r.found_at.astimezone(tz):%m-%d %H:%M}", r.grade, r.category, r.rule_id, r.source_id,
                      r.title, "、".join(r.terms), r.snippet, r.url)
    out.print(table)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """创建或升级数据库表结构（启动时也会自动执行）。"""
    from storage import db

    paths: Paths = ctx.obj

    async def nothing(_session: object) -> None:
        return None

    asyncio.run(db.run_once(paths.db_url, nothing))
    out.print(f"数据库已是最新 database is up to date: {_redact(paths.db_url)}")


def _evidence_digest(paths: Paths, alert_id: int) -> str:
    from storage import db, queries

    digest = asyncio.run(db.run_once(paths.db_url, lambda session: queries.evidence_digest(session, alert_id)))
    if digest is None:
        err.print(f"没有告警 {alert_id} 或它没有证据 (no such alert, or no evidence)")
        raise typer.Exit(1)
    return digest


@evidence_app.command("verify")
def evidence_verify(ctx: typer.Context, alert_id: int) -> None:
    """重新计算告警证据的 SHA-256，与清单和数据库比对；被改动则退出码 1。"""
    from storage.evidence import EvidenceStore

    paths: Paths = ctx.obj
    result = EvidenceStore(paths.data / "evidence").verify(_evidence_digest(paths, alert_id))
    if not result.ok:
        for problem in result.problems:
            typer.echo(f"告警 {alert_id}: {problem}", err=True)
        raise typer.Exit(1)
    out.print(f"告警 {alert_id} 的证据完好 evidence verified: {result.manifest['url']} "
              f"抓取于 {result.manifest['fetched_at']} SHA-256 {result.manifest['body_sha256']}", highlight=False)


@evidence_app.command("export")
def evidence_export(
    ctx: typer.Context, alert_id: int,
    out_file: Annotated[Optional[Path], typer.Option("--out", help="ZIP 文件路径")] = None,
    institution: Annotated[str, typer.Option(
        "--institution", envvar="YUQING_INSTITUTION", help="处理单上的填报单位名称")] = "本单位",
) -> None:
    """把告警证据（WARC、提取文本、清单）和《舆情信息报告处理单》（.docx）打包成 ZIP。"""
    from crawler.cli_triage import form_bytes
    from storage.evidence import EvidenceStore

    paths: Paths = ctx.obj
    target = out_file or Path(f"evidence-alert-{alert_id}.zip")
    digest = _evidence_digest(paths, alert_id)
    form_name = f"report-form-alert-{alert_id}.docx"  # ASCII like the other entries: any unzip shows it right
    form = form_bytes(ctx, alert_id, "处理单", institution.strip() or "本单位")
    EvidenceStore(paths.data / "evidence").export_zip(digest, target, extra={form_name: form})
    out.print(f"已导出 exported: {target}（含处理单 {form_name}）")


@leads_app.command("add")
def leads_add(
    ctx: typer.Context,
    informant: Annotated[str, typer.Option("--as", envvar="YUQING_USER", help="报送的信息员（yuqing users 里的用户名）")],
    text: Annotated[str, typer.Option("--text", help="线索内容，如聊天记录文字")] = "",
    url: Annotated[Optional[str], typer.Option("--url", help="相关链接")] = None,
    screenshot: Annotated[Optional[list[Path]], typer.Option("--screenshot", help="截图文件，可多次给出")] = None,
    grade: Annotated[str, typer.Option("--grade", help="一般 | 重大")] = "一般",
    category: Annotated[str, typer.Option("--category")] = "信息员报送",
) -> None:
    """报送一条线索：生成告警，进入研判处置流程（有时限、有审计）。"""
    from alerts.leads import LeadError, Screenshot, submit_lead
    from storage import db
    from storage.workflow import NotFound

    paths: Paths = ctx.obj
    config = _load(paths)
    if grade not in ("一般", "重大"):
        typer.echo("--grade 应为 一般 或 重大", err=True)
        raise typer.Exit(2)
    shots = [Screenshot(p.name, p.read_bytes()) for p in screenshot or []]

    async def work(session: object) -> int:
        return await submit_lead(
            session, informant=informant, text=text, url=url, grade=grade, category=category,  # type: ignore[arg-type]
            now=datetime.now(timezone.utc), screenshots_dir=paths.data / "leads", screenshots=shots,
            channels_for=config.alerts.channels_for)

    try:
        alert_id = asyncio.run(db.run_once(paths.db_url, work))
    except (LeadError, NotFound) as exc:
        typer.echo(f"未受理 refused: {exc}", err=True)
        raise typer.Exit(1) from None
    out.print(f"线索已受理，告警编号 {alert_id}（下次 yuqing run/crawl 投递通知；研判请用 yuqing alerts）")


@leads_app.command("stats")
def leads_stats(
    ctx: typer.Context,
    week: Annotated[Optional[str], typer.Option("--week", help="该周任一天，YYYY-MM-DD；默认本周")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """每周信息员报送统计：报送数、确认数（已上报及以后）。"""
    from datetime import date, timedelta

    from alerts.leads import SOURCE_ID
    from storage import db, queries

    paths: Paths = ctx.obj
    tz = ZoneInfo("Asia/Shanghai")
    day = date.fromisoformat(week) if week else datetime.now(tz).date()
    monday = datetime.combine(day - timedelta(days=day.weekday()), datetime.min.time(), tz)
    since, until = monday.astimezone(timezone.utc), (monday + timedelta(days=7)).astimezone(timezone.utc)
    rows = asyncio.run(db.run_once(paths.db_url, lambda s: queries.informant_stats(s, SOURCE_ID, since, until)))
    if as_json:
        typer.echo(json.dumps({"week_start": monday.date().isoformat(), "informants": [asdict(r) for r in rows]},
                              ensure_ascii=False, indent=2))
        return
    table = Table(title=f"信息员报送统计 {monday:%Y-%m-%d} 起一周")
    for column in ("信息员", "报送", "确认"):
        table.add_column(column)
    for row in rows:
        table.add_row(row.informant, str(row.submitted), str(row.confirmed))
    out.print(table)


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def demo(
    ctx: typer.Context,
    every: Annotated[int, typer.Option("--every", help="巡查间隔（秒）")] = 20,
) -> None:
    """离线演示：启动本机演示新闻站和邮件接收器，用示例规则巡查，显示命中和已发送的告警。Ctrl-C 退出。"""
    from crawler.demo.run import run_demo

    paths: Paths = ctx.obj
    setup_logging("WARNING", "Asia/Shanghai")
    asyncio.run(run_demo(paths.data, paths.db, every_s=every, console=out))


if __name__ == "__main__":  # pragma: no cover
    app()
