"""``yuqing incidents``: reposts of one story folded into one case, and their propagation path.

A repost is stored and kept as evidence like any page, but it raises no alert of its own: the
incident's first alert (the primary case) carries the grade, deadlines and state. When the fold
was wrong, ``split`` makes the page a case of its own (audited).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from alerts.deadlines import CHINA
from alerts.workflow import STATE_LABELS, split
from crawler.cli_triage import AlertId, Actor, Note, _local, _now, _run
from storage import workflow as store

incidents_app = typer.Typer(help="事件：同一消息在各网站的转载并为一件，按传播路径查看", no_args_is_help=True)


def _state(incident: store.Incident) -> str:
    return STATE_LABELS.get(incident.state or "", "—")


@incidents_app.command("list")
def list_incidents(
    ctx: typer.Context,
    days: Annotated[int, typer.Option("--days", min=1, help="最近几天首次发现的事件")] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 100,
) -> None:
    """列出事件：首次发现时间、标题、主告警及其状态、转载处数和网站数，新的在前。"""
    found = _run(ctx, lambda s: store.list_incidents(s, limit, since=_now() - timedelta(days=days)))
    if as_json:
        typer.echo(json.dumps([{
            "id": i.incident_id, "title": i.title, "primary_alert_id": i.primary_alert_id, "state": i.state,
            "grade": i.grade, "first_seen": i.created_at.astimezone(CHINA).isoformat(), "copies": len(i.copies),
            "sources": i.sources,
        } for i in found], ensure_ascii=False, indent=2))
        return
    table = Table(title=f"事件 incidents（最近 {days} 天，{len(found)} 件）")
    for column in ("编号", "首次发现", "标题", "主告警", "状态", "等级", "转载处数", "网站数"):
        table.add_column(column, overflow="fold")
    for i in found:
        table.add_row(str(i.incident_id), _local(i.created_at, "%m-%d %H:%M"), i.title,
                      str(i.primary_alert_id or "—"), _state(i), i.grade or "—", str(len(i.copies)), str(i.sources))
    Console().print(table)


@incidents_app.command("show")
def show_incident(ctx: typer.Context, incident_id: Annotated[int, typer.Argument(metavar="ID", help="事件编号")],
                  as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False) -> None:
    """传播路径：每一处转载的发现时间（北京时间）、网站、发布时间、标题和链接，按发现先后。"""
    found = _run(ctx, lambda s: store.list_incidents(s, incident_id=incident_id))
    if not found:
        typer.secho(f"错误：事件 {incident_id} 不存在 (no incident {incident_id})", err=True, fg="red")
        raise typer.Exit(1)
    incident = found[0]
    if as_json:
        typer.echo(json.dumps({
            "id": incident.incident_id, "title": incident.title, "primary_alert_id": incident.primary_alert_id,
            "state": incident.state, "grade": incident.grade, "copies": [{
                "alert_id": c.alert_id, "source_id": c.source_id, "url": c.url, "title": c.title,
                "found_at": c.found_at.astimezone(CHINA).isoformat(),
                "published_at": c.published_at.astimezone(CHINA).isoformat() if c.published_at else None,
            } for c in incident.copies]}, ensure_ascii=False, indent=2))
        return
    lines = [f"事件 {incident.incident_id}：{incident.title}",
             f"主告警 {incident.primary_alert_id}（{_state(incident)}，{incident.grade or '—'}）；"
             f"共 {len(incident.copies)} 处，{incident.sources} 个网站", "", "传播路径（北京时间）："]
    for n, c in enumerate(incident.copies, 1):
        published = f"，发布于 {_local(c.published_at)}" if c.published_at else ""
        lines.append(f"  {n}. {_local(c.found_at)} 发现 · {c.source_id}{published} · 告警 {c.alert_id}")
        lines.append(f"     {c.title or '（无标题）'}  {c.url}")
    typer.echo("\n".join(lines))


@incidents_app.command("split")
def split_alert(ctx: typer.Context, alert_id: AlertId, actor: Actor, note: Note = None) -> None:
    """拆分：把误并入事件的一条转载改为独立事件（独立告警，按自己的发现时间计时限），写入审计日志。"""
    done = _run(ctx, lambda s: split(s, alert_id, actor, note=note))
    typer.echo(f"告警 {alert_id} 已拆分为独立事件（操作人 {actor}，审计记录第 {done.seq} 条）")
