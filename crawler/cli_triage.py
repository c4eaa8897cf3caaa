"""``yuqing alerts | audit | users | departments``: the triage desk on the command line.

Typer sub-apps that crawler.cli mounts. Each command takes the database from the main app's
options (``ctx.obj.db_url``) and the deadline settings from ``alerts.yaml`` in ``ctx.obj.config``
(the regulations' defaults when there is no configuration). Times are shown in Beijing time.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Optional, TypeVar

import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import audit, forms
from alerts.config import AlertsFile
from alerts.deadlines import (
    CHINA,
    DONE_IN,
    LABELS,
    Deadlines,
    DeadlineSettings,
    local_time,
    overdue,
    span_text,
)
from alerts.people import ROLE_LABELS, PeopleError, add_department, add_user
from alerts.workflow import (
    OPEN_STATES,
    RULES,
    STATE_LABELS,
    Request,
    WorkflowError,
    allowed_actions,
    apply,
    case_deadlines,
)
from crawler.config.sources import PositiveSeconds, SourcesFile
from crawler.config.yamlfile import ConfigError, issues_from_validation, load_documents
from storage import db
from storage import workflow as store

alerts_app = typer.Typer(help="告警研判处置：列表、详情和每一步操作（每步写入审计日志）", no_args_is_help=True)
audit_app = typer.Typer(help="审计日志：校验哈希链、导出 CSV 供督查", no_args_is_help=True)
users_app = typer.Typer(help="用户与角色 (admin, operator, leader, department, informant)", no_args_is_help=True)
departments_app = typer.Typer(help="责任部门：交办对象、联系人和通知渠道", no_args_is_help=True)

T = TypeVar("T")
REFUSED = (WorkflowError, PeopleError, store.NotFound, store.AlreadyExists)

AlertId = Annotated[int, typer.Argument(metavar="ID", help="告警编号")]
Actor = Annotated[str, typer.Option("--as", envvar="YUQING_USER", help="操作人（用户名）：检查角色，写入审计日志")]
Note = Annotated[Optional[str], typer.Option("--note", help="说明，写入审计日志")]
Institution = Annotated[str, typer.Option(
    "--institution", envvar="YUQING_INSTITUTION", help="表单上的单位名称（填报单位、交办单位）")]


def _run(ctx: typer.Context, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """``work`` in one session on the configured database; a refused request exits 1 with its reason."""

    async def go() -> T:
        engine = db.make_engine(ctx.obj.db_url)
        try:
            await db.upgrade(engine)
            async with db.sessionmaker(engine)() as session:
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(go())
    except REFUSED as exc:
        typer.secho(f"错误：{exc}", err=True, fg="red")
        raise typer.Exit(1) from None


def _alerts_file(ctx: typer.Context) -> AlertsFile | None:
    """``alerts.yaml`` as written, or None when absent or invalid (triage then goes on with defaults).

    ``${VAR}`` references stay unexpanded: triage needs no secrets, and an operator's shell rarely
    has the daemon's SMTP password set.
    """
    path: Path = ctx.obj.config / "alerts.yaml"
    if not path.exists():
        return None
    try:
        docs = load_documents(path)
        if not docs:
            return AlertsFile()
        try:
            return AlertsFile.model_validate(docs[0].data)
        except ValidationError as exc:
            raise ConfigError(issues_from_validation(docs[0], exc)) from None
    except ConfigError as exc:
        for issue in exc.issues:
            typer.echo(f"警告 warning: {issue}", err=True)
        typer.secho("alerts.yaml 有误，处置时限按默认值计算 (alerts.yaml invalid: default deadlines)",
                    err=True, fg="yellow")
        return None


def _settings(ctx: typer.Context) -> DeadlineSettings:
    alerts_file = _alerts_file(ctx)
    return alerts_file.deadlines if alerts_file else DeadlineSettings()


def _now() -> datetime:
    return datetime.now(timezone.utc)


_local = local_time
_span = span_text


def _countdown(due: datetime, now: datetime) -> str:
    left = (due - now).total_seconds()
    return f"剩余 {_span(left)}" if left >= 0 else f"已超时 {_span(left)}"


def _actor_of_cli() -> str:
    """Who ran a management command: the operating-system account (there is no --as before the first admin)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid{os.getuid()}"


# --- alerts: list and show ---------------------------------------------------------------------

def _state(value: str) -> str:
    by_label = {label: state for state, label in STATE_LABELS.items()}
    if value in STATE_LABELS:
        return value
    if value in by_label:
        return by_label[value]
    choices = "、".join(f"{s}（{label}）" for s, label in STATE_LABELS.items())
    raise typer.BadParameter(f"未知状态，可选：{choices}", param_hint="--state")


def _pending(case: store.Case, deadlines: Deadlines) -> list[tuple[str, datetime]]:
    return [(kind, due) for kind, due in deadlines.items() if case.state not in DONE_IN[kind]]


@alerts_app.command("list")
def list_alerts(
    ctx: typer.Context,
    state: Annotated[Optional[str], typer.Option("--state", help="只看这个状态，如 new 或 待研判")] = None,
    overdue_only: Annotated[bool, typer.Option("--overdue", help="只看已超过处置时限的告警")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 100,
    reposts: Annotated[bool, typer.Option("--reposts", help="也列出已并入事件的转载（随主告警处置）")] = False,
) -> None:
    """列出告警：状态、等级、标题、责任部门、下一个处置时限和倒计时（北京时间），新的在前。
    同一事件的转载并入其主告警，不单独列出（yuqing incidents 查看传播路径）。"""
    wanted = [_state(state)] if state else (sorted(OPEN_STATES) if overdue_only else None)
    settings, now = _settings(ctx), _now()
    cases = _run(ctx, lambda s: store.list_cases(s, wanted, None if overdue_only else limit, reposts=reposts))
    rows = []
    for case in cases:
        deadlines = case_deadlines(case, settings)
        missed = overdue(case.state, deadlines, now)
        if missed or not overdue_only:
            rows.append((case, deadlines, missed))
    rows = rows[:limit]
    if as_json:
        typer.echo(json.dumps([{
            "id": case.alert_id, "state": case.state, "state_label": STATE_LABELS[case.state], "grade": case.grade,
            "emergency": case.emergency, "category": case.category, "rule_id": case.rule_id, "title": case.title,
            "url": case.url, "source_id": case.source_id, "department": case.department,
            "found_at": case.found_at.astimezone(CHINA).isoformat(), "incident_id": case.incident_id,
            "repost_of": case.copy_of,
            "deadlines": {kind: due.astimezone(CHINA).isoformat() for kind, due in deadlines.items()},
            "overdue": missed,
        } for case, deadlines, missed in rows], ensure_ascii=False, indent=2))
        return
    table = Table(title=f"告警 alerts ({len(rows)})")
    for column in ("编号", "状态", "等级", "类别", "标题", "来源", "发现时间", "责任部门", "下一时限", "超时"):
        table.add_column(column, overflow="fold")
    for case, deadlines, missed in rows:
        upcoming = _pending(case, deadlines)
        nxt = f"{LABELS[upcoming[0][0]]} {_local(upcoming[0][1], '%m-%d %H:%M')}（{_countdown(upcoming[0][1], now)}）" \
            if upcoming else "—"
        grade = f"{case.grade}·紧急" if case.emergency else case.grade
        table.add_row(str(case.alert_id), STATE_LABELS[case.state], grade, case.category, case.title, case.source_id,
                      _local(case.found_at, "%m-%d %H:%M"), case.department or "—", nxt,
                      "、".join(LABELS[k] for k in missed) or "—")
    Console().print(table)


def _deadline_line(kind: str, due: datetime, case: store.Case, history: list[store.AuditEntry], now: datetime) -> str:
    if case.state not in DONE_IN[kind]:
        return f"{_local(due)}  {_countdown(due, now)}"
    if case.state == "false_positive":
        return f"{_local(due)}  不再需要（误报）"
    done = next((e.at for e in history if e.to_state in DONE_IN[kind]), None)
    if done is None:  # done before the log existed
        return f"{_local(due)}  已完成"
    late = (done - due).total_seconds()
    return f"{_local(due)}  已完成 {_local(done)}" + (f"（超时 {_span(late)}）" if late > 0 else "")


def _detail(detail: dict[str, object] | None) -> str:
    """The parts of an entry's detail worth a line in the history; reply and report are shown in full above."""
    detail = detail or {}
    parts = []
    if "department" in detail:
        parts.append(f"交办 {detail['department']}")
    if "due" in detail:
        parts.append(f"期限 {_local(datetime.fromisoformat(str(detail['due'])))}")
    if "grade" in detail:
        parts.append(f"等级 {detail['from_grade']} → {detail['grade']}")
    return "".join(f"；{part}" for part in parts)


@alerts_app.command("show")
def show_alert(ctx: typer.Context, alert_id: AlertId) -> None:
    """告警详情：原文链接、命中、摘要、处置时限与倒计时、责任部门、反馈与结案、处置记录（审计日志）。"""
    settings, now = _settings(ctx), _now()

    async def load(session: AsyncSession) -> tuple[store.Case, list[store.AuditEntry]]:
        case = await store.load_case(session, alert_id)
        return case, [e async for e in store.audit_entries(session, alert_id)]

    case, history = _run(ctx, load)
    head = f"告警 {case.alert_id} · {case.grade} · {STATE_LABELS[case.state]}"
    if case.emergency:
        head += f" · 紧急（{case.emergency_by} {_local(case.emergency_at)} 标记，先电话报告）"
    lines = [head, "", f"标题：{case.title or '（无标题）'}", f"链接：{case.url}", f"来源：{case.source_id}"]
    if case.published_at:
        lines.append(f"发布时间：{_local(case.published_at)}")
    if case.author:
        lines.append(f"作者：{case.author}")
    lines += [f"规则：{case.rule_id}（{case.category}）", f"命中词：{'、'.join(case.terms) or '—'}",
              "摘要：", f"  {case.snippet.strip() or '（无）'}",
              f"发现时间：{_local(case.found_at, '%Y-%m-%d %H:%M:%S')}（北京时间）"]
    if case.department:
        lines.append(f"责任部门：{case.department}")
    if case.copy_of is not None:
        lines.append(f"事件：{case.incident_id}，本条是转载，随主告警 {case.copy_of} 处置"
                     f"（yuqing incidents show {case.incident_id}）")
    elif case.incident_id is not None:
        lines.append(f"事件：{case.incident_id}（传播路径：yuqing incidents show {case.incident_id}）")
    lines += ["", "处置时限（北京时间）："]
    lines += [f"  {LABELS[kind]}：{_deadline_line(kind, due, case, history, now)}"
              for kind, due in case_deadlines(case, settings).items()]
    if case.reply_text:
        lines += ["", "部门反馈：", f"  {case.reply_text}"]
    if case.closing_report:
        lines += ["", "结案报告：", f"  {case.closing_report}"]
    lines += ["", "处置记录（审计日志）："]
    for e in history:
        moved = audit.state_label(e.to_state) if e.from_state == e.to_state else \
            f"{audit.state_label(e.from_state)} → {audit.state_label(e.to_state)}"
        lines.append(f"  #{e.seq} {_local(e.at)} {e.actor} {audit.ACTION_LABELS.get(e.action, e.action)} {moved}"
                     + _detail(e.detail) + (f"；说明：{e.note}" if e.note else ""))
    if not history:
        lines.append("  （尚无）")
    possible = "、".join(f"{RULES[a].label}（yuqing alerts {a.replace('_', '-')}）"
                        for a in allowed_actions(case.state))
    lines += ["", f"可执行操作：{possible or '无（已结束）'}"]
    typer.echo("\n".join(lines))


# --- alerts: one command per action ------------------------------------------------------------

def _act(ctx: typer.Context, alert_id: int, actor: str, request: Request,
         settings: DeadlineSettings | None = None, now: datetime | None = None) -> None:
    settings = settings or _settings(ctx)
    done = _run(ctx, lambda s: apply(s, alert_id, actor, request, settings=settings, now=now))
    moved = STATE_LABELS[done.to_state] if done.from_state == done.to_state else \
        f"{STATE_LABELS[done.from_state]} → {STATE_LABELS[done.to_state]}"
    typer.echo(f"告警 {alert_id}：{RULES[done.action].label}，{moved}（操作人 {actor}，审计记录第 {done.seq} 条）")


@alerts_app.command("assess")
def assess(ctx: typer.Context, alert_id: AlertId, actor: Actor, note: Note = None) -> None:
    """开始研判：待研判 → 研判中。"""
    _act(ctx, alert_id, actor, Request("assess", note=note))


@alerts_app.command("grade")
def grade(
    ctx: typer.Context, alert_id: AlertId,
    level: Annotated[str, typer.Argument(metavar="一般|重大", help="新的等级")], actor: Actor, note: Note = None,
) -> None:
    """定级：改为一般或重大；处置时限按新等级从发现时间重新计算。"""
    _act(ctx, alert_id, actor, Request("grade", note=note, grade=level))


@alerts_app.command("false-positive")
def false_positive(ctx: typer.Context, alert_id: AlertId, actor: Actor, note: Note = None) -> None:
    """判定误报：研判中 → 误报（结束）。"""
    _act(ctx, alert_id, actor, Request("false_positive", note=note))


@alerts_app.command("report")
def report(ctx: typer.Context, alert_id: AlertId, actor: Actor, note: Note = None) -> None:
    """上报领导（报送处理单）：研判中 → 已上报。"""
    _act(ctx, alert_id, actor, Request("report", note=note))


def _due(value: str | None, settings: DeadlineSettings, now: datetime) -> datetime:
    """``24h`` / ``2d`` / ``90m`` from now, or a time (Beijing time unless it carries an offset)."""
    if value is None:
        return now + timedelta(seconds=settings.reply)
    hint = "应为时长（如 24h、2d、90m）或时间（如 2026-10-09 17:00，北京时间）"
    if value.strip().isdigit():
        raise typer.BadParameter(f"请写单位，{hint}", param_hint="--due")
    try:
        return now + timedelta(seconds=TypeAdapter(PositiveSeconds).validate_python(value))
    except ValidationError:
        pass
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(hint, param_hint="--due") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=CHINA)).astimezone(timezone.utc)


@alerts_app.command("dispatch")
def dispatch(
    ctx: typer.Context, alert_id: AlertId, actor: Actor,
    dept: Annotated[str, typer.Option("--dept", help="责任部门名称（yuqing departments list）")],
    due: Annotated[Optional[str], typer.Option(
        "--due", help="办理期限：24h、2d 或 2026-10-09 17:00（北京时间）；默认 deadlines.reply（24h）")] = None,
    note: Note = None,
) -> None:
    """交办责任部门（交办单）：已上报 → 已交办，带办理期限。"""
    settings, now = _settings(ctx), _now()
    request = Request("dispatch", note=note, department=dept, due=_due(due, settings, now))
    _act(ctx, alert_id, actor, request, settings, now)


@alerts_app.command("reply")
def reply(
    ctx: typer.Context, alert_id: AlertId, actor: Actor,
    text: Annotated[str, typer.Option("--text", help="部门反馈的处置情况")], note: Note = None,
) -> None:
    """部门反馈处置结果：已交办 → 已反馈。责任部门用户只能反馈交办给本部门的告警。"""
    _act(ctx, alert_id, actor, Request("reply", note=note, text=text))


@alerts_app.command("close")
def close(
    ctx: typer.Context, alert_id: AlertId, actor: Actor,
    closing: Annotated[str, typer.Option("--report", help="结案报告：处置情况、结果、效果评估")], note: Note = None,
) -> None:
    """结案：已反馈 → 已结案。"""
    _act(ctx, alert_id, actor, Request("close", note=note, report=closing))


@alerts_app.command("emergency")
def emergency(
    ctx: typer.Context, alert_id: AlertId, actor: Actor,
    note: Annotated[str, typer.Option("--note", help="电话报告了谁、几点，如：14:05 电话报告王校长")],
) -> None:
    """标记紧急：先电话报告、后补书面材料；记录操作人和时间，状态不变。"""
    _act(ctx, alert_id, actor, Request("emergency", note=note))


# --- alerts: the official forms -----------------------------------------------------------------

def _source_names(ctx: typer.Context) -> dict[str, str]:
    """Source id → its name in ``sources.yaml``; empty when the file is absent or invalid (ids are shown)."""
    path: Path = ctx.obj.config / "sources.yaml"
    try:
        docs = load_documents(path) if path.exists() else []
        if len(docs) != 1 or not isinstance(docs[0].data, dict):
            return {}
        sources = SourcesFile.model_validate(docs[0].data)
    except (ConfigError, ValidationError, OSError):
        return {}
    return {source.id: source.name for source in sources.sources if source.name}


def form_bytes(ctx: typer.Context, alert_id: int, kind: str, institution: str) -> bytes:
    """The .docx of one form of one alert, with the deadlines of ``alerts.yaml`` and the source names of
    ``sources.yaml``; a missing alert exits 1 with the reason (``yuqing evidence export`` uses it too)."""
    settings, names, now = _settings(ctx), _source_names(ctx), _now()
    if institution == forms.DEFAULT_INSTITUTION:  # no --institution / YUQING_INSTITUTION: alerts.yaml's name
        institution = getattr(_alerts_file(ctx), "institution", None) or institution
    return _run(ctx, lambda s: forms.render_form(s, alert_id, kind, institution=institution, settings=settings,
                                                 source_names=names, generated_at=now))


@alerts_app.command("form")
def form(
    ctx: typer.Context, alert_id: AlertId,
    kind: Annotated[str, typer.Option("--kind", help="处理单 | 交办单 | 结案报告")] = "处理单",
    out: Annotated[Optional[Path], typer.Option(
        "--out", help="写入的 .docx 文件；默认 当前目录/《表名》-告警ID.docx")] = None,
    institution: Institution = forms.DEFAULT_INSTITUTION,
) -> None:
    """生成公文表单（Word .docx）：《舆情信息报告处理单》、交办单或结案报告，内容取自告警和处置记录。"""
    try:
        kind = forms.form_kind(kind)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--kind") from None
    data = form_bytes(ctx, alert_id, kind, institution.strip() or forms.DEFAULT_INSTITUTION)
    target = out or Path(forms.file_name(kind, alert_id))
    try:
        target.write_bytes(data)
    except OSError as exc:
        typer.secho(f"错误：无法写入 {target}：{exc.strerror or exc} (cannot write the file)", err=True, fg="red")
        raise typer.Exit(1) from None
    typer.echo(f"已生成《{forms.TITLES[kind]}》：{target} (form written)")


# --- audit ---------------------------------------------------------------------------------------

@audit_app.command("verify")
def audit_verify(ctx: typer.Context) -> None:
    """校验审计日志哈希链：指出第一条被修改或删除的记录；失败时退出码为 1。"""
    verdict = _run(ctx, audit.verify)
    if not verdict.ok:
        typer.secho(f"审计日志校验失败 audit log verification FAILED：{verdict.problem}", err=True, fg="red")
        raise typer.Exit(1)
    typer.echo(f"审计日志完整：共 {verdict.count} 条，末条哈希 {verdict.head}\n"
               f"(audit log intact: {verdict.count} entries; keep the head hash to detect later truncation)")


@audit_app.command("export")
def audit_export(
    ctx: typer.Context,
    out: Annotated[Optional[Path], typer.Option("--out", help="写入文件；不写则输出到标准输出")] = None,
) -> None:
    """导出审计日志为 CSV（UTF-8 带 BOM，Excel 可直接打开中文）。"""

    async def load(session: AsyncSession) -> list[store.AuditEntry]:
        return [e async for e in store.audit_entries(session)]

    entries = _run(ctx, load)
    data = audit.to_csv(entries).encode("utf-8-sig")
    if out is None:
        typer.get_binary_stream("stdout").write(data)
        return
    out.write_bytes(data)
    typer.echo(f"已导出 {len(entries)} 条审计记录到 {out} (exported {len(entries)} entries)")


# --- users and departments ---------------------------------------------------------------------

@users_app.command("add")
def users_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="用户名（--as 时使用）")],
    role: Annotated[str, typer.Option("--role", help="admin | operator | leader | department | informant")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="从标准输入读一行作为网页登录密码")] = False,
    department: Annotated[Optional[str], typer.Option("--department", help="所属部门；department 角色必填")] = None,
    email: Annotated[Optional[str], typer.Option("--email")] = None,
    phone: Annotated[Optional[str], typer.Option("--phone")] = None,
) -> None:
    """添加用户（写入审计日志）。只用命令行的用户可以不设密码。"""
    password = typer.get_text_stream("stdin").readline().rstrip("\r\n") if password_stdin else None
    person = _run(ctx, lambda s: add_user(s, name=name, role=role, department=department, email=email, phone=phone,
                                          password=password, actor=_actor_of_cli(), now=_now()))
    where = f"，部门 {person.department}" if person.department else ""
    typer.echo(f"已添加用户 {person.name}（{ROLE_LABELS[person.role]}{where}）(user added)")


@users_app.command("list")
def users_list(ctx: typer.Context) -> None:
    """列出用户：角色、部门、联系方式、是否可网页登录。"""
    people = _run(ctx, store.list_users)
    table = Table(title=f"用户 users ({len(people)})")
    for column in ("用户", "角色", "部门", "邮箱", "电话", "网页登录", "添加时间"):
        table.add_column(column, overflow="fold")
    for p in people:
        table.add_row(p.name, f"{ROLE_LABELS.get(p.role, p.role)} {p.role}", p.department or "—", p.email or "—",
                      p.phone or "—", "已设密码" if p.password_hash else "—", _local(p.created_at))
    Console().print(table)


@departments_app.command("add")
def departments_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="部门名称（交办时 --dept 使用）")],
    contact: Annotated[Optional[list[str]], typer.Option(
        "--contact", help="联系人，如 \"王主任 13800000000\"；可多次")] = None,
    channel: Annotated[Optional[list[str]], typer.Option("--channel", help="alerts.yaml 中的渠道名；可多次")] = None,
) -> None:
    """添加责任部门（写入审计日志）。"""
    alerts_file = _alerts_file(ctx)
    if alerts_file is not None:
        known = {c.key for c in alerts_file.channels}
        for key in channel or []:
            if key not in known:
                typer.secho(f"警告：alerts.yaml 中没有渠道「{key}」(no such channel in alerts.yaml)",
                            err=True, fg="yellow")
    department = _run(ctx, lambda s: add_department(s, name=name, contacts=contact, channels=channel,
                                                    actor=_actor_of_cli(), now=_now()))
    typer.echo(f"已添加部门 {department.name} (department added)")


@departments_app.command("list")
def departments_list(ctx: typer.Context) -> None:
    """列出责任部门：联系人和通知渠道。"""
    departments = _run(ctx, store.list_departments)
    table = Table(title=f"责任部门 departments ({len(departments)})")
    for column in ("部门", "联系人", "通知渠道", "添加时间"):
        table.add_column(column, overflow="fold")
    for d in departments:
        table.add_row(d.name, "；".join(d.contacts) or "—", "、".join(d.channels) or "—", _local(d.created_at))
    Console().print(table)

