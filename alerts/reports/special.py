"""舆情专报: the special report on one incident — what happened, the propagation path with a
timeline, 研判 (cause, characteristics), the handling steps and their results, the effect.

An incident's copies are the alerts that share its ``incident_id`` (``load_case_file(...).copies``,
oldest first); its triage follows the primary alert, whose audit history gives the handling
steps. 研判 is what the operator wrote (labelled parts as in the 处理单, alerts.forms) plus what the
copies show: how many sites, how many copies, how long the story kept spreading, and whether it
spread further after the case was closed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.audit import ACTION_LABELS, state_label
from alerts.deadlines import CHINA
from alerts.forms import ASSESSMENT_ACTIONS, ASSESSMENT_PARTS, excerpt, split_assessment
from alerts.officialdoc import clean, span, when
from alerts.reports import charts
from alerts.reports.document import Chart, Report, Section, table
from alerts.workflow import STATE_LABELS
from storage import reports as store
from storage import workflow as cases_store
from storage.workflow import NotFound

TITLE = "舆情专报"


def _copies(file: cases_store.CaseFile) -> list[cases_store.Copy]:
    """The incident's copies, one per URL; a lone alert is its own only copy."""
    seen: set[str] = set()
    out = []
    for copy in file.copies or (cases_store.Copy(file.case.alert_id, file.case.source_id, file.case.url,
                                                 file.case.title, file.case.found_at, file.case.published_at),):
        if copy.url not in seen:
            seen.add(copy.url)
            out.append(copy)
    return out


def compose_special(file: cases_store.CaseFile, incident_id: int, *, institution: str, names: Mapping[str, str],
                    now: datetime) -> Report:
    """The 专报 of one incident from the case file of its primary alert (pure)."""
    case = file.case
    copies = _copies(file)
    first, last = copies[0], copies[-1]
    sources = Counter(names.get(c.source_id, c.source_id) for c in copies)
    closed = next((s.entry.at for s in reversed(file.history) if s.entry.action == "close"), None)
    after_close = [c for c in copies if closed is not None and c.found_at > closed]

    facts = table("事件概况", ["项目", "内容"], [
        ["标题", clean(case.title) or "（无标题）"],
        ["首次发现", f"{when(first.found_at)}，{names.get(first.source_id, first.source_id)}"],
        ["首发链接", first.url],
        ["等级 / 类别", f"{case.grade}{'（紧急）' if case.emergency else ''} / {case.category}"],
        ["转载情况", f"{len(copies)} 处，涉及 {len(sources)} 个来源"],
        ["当前状态", STATE_LABELS.get(case.state, case.state)],
        ["责任部门", case.department or "—"],
    ], widths_cm=[2.6, 13.0])
    happened = Section("事件概况", (
        f"{when(first.found_at)}，系统在「{names.get(first.source_id, first.source_id)}」发现《{clean(case.title)}》，"
        f"命中规则「{case.rule_id}」（{case.category}），定为{case.grade}舆情。",
        f"内容摘要：{clean(case.snippet).strip() or '（无）'}",
        f"正文节选：{excerpt(file.text, 300) or '（无正文）'}"), (facts,))

    path_rows = [[i, when(c.found_at), when(c.published_at) or "不详", names.get(c.source_id, c.source_id),
                  clean(c.title), c.url] for i, c in enumerate(copies, 1)]
    timeline = table("传播路径", ["序号", "发现时间", "发布时间", "来源", "标题", "链接"], path_rows,
                     widths_cm=[0.9, 2.6, 2.6, 2.0, 3.8, 3.8])
    cumulative = Chart("转载累计（按发现时间）", charts.lines(
        "转载累计（按发现时间）", [f"{c.found_at.astimezone(CHINA):%m-%d %H:%M}" for c in copies],
        {"累计转载": list(range(1, len(copies) + 1))}, ylabel="处"))
    spread = Section("传播路径", (
        f"自首次发现至最后一次发现共 {span((last.found_at - first.found_at).total_seconds())}，"
        f"共发现 {len(copies)} 处，按发现时间排列如下。",), (timeline,),
        (cumulative, Chart("各来源转载数", charts.bars("各来源转载数", dict(sources.most_common(), ), ylabel="处"))))

    parts: dict[str, str] = {}
    notes: list[str] = []
    for step in file.history:
        note = clean(step.entry.note).strip()
        if note and step.entry.action in ASSESSMENT_ACTIONS and step.role != "leader":
            labelled, rest = split_assessment(note)
            for part, value in labelled.items():
                parts[part] = f"{parts[part]}；{value}" if part in parts else value
            if rest:
                notes.append(f"{step.entry.actor}（{when(step.entry.at)}）：{rest}")
    observed = (f"传播范围 {len(sources)} 个来源、{len(copies)} 处；"
                f"首发 {names.get(first.source_id, first.source_id)}，转载最多的来源为 {sources.most_common(1)[0][0]}。")
    judged = table("研判", ["项目", "内容"], [
        *[[part, parts.get(part, "（未填写）")] for part, _ in ASSESSMENT_PARTS],
        ["系统观察", observed], *([["研判记录", "\n".join(notes)]] if notes else [])], widths_cm=[2.6, 13.0])
    assessment = Section("研判（原因、特点）", (), (judged,))

    steps = table("处置经过", ["序号", "时间", "操作人", "操作", "说明"], [
        [i, when(s.entry.at), s.entry.actor,
         f"{ACTION_LABELS.get(s.entry.action, s.entry.action)}（{state_label(s.entry.to_state)}）",
         clean(s.entry.note).strip() or "—"] for i, s in enumerate(file.history, 1)],
        widths_cm=[0.9, 2.8, 1.8, 3.4, 6.7])
    handling = Section("处置措施及结果", (
        f"处置结果：{clean(case.reply_text).strip() or '（尚无反馈）'}",), (steps,))

    effect = [f"效果评估：{clean(case.closing_report).strip() or '（尚未结案）'}"]
    if closed is not None:
        effect.append(f"结案时间 {when(closed)}；结案后新增转载 {len(after_close)} 处"
                      + ("，舆情未再扩散。" if not after_close else "，仍需持续关注。"))
    evaluation = Section("效果评估", tuple(effect))
    return Report("incident", TITLE, institution, f"事件{incident_id}", clean(case.title), now,
                  (happened, spread, assessment, handling, evaluation), period_label="事件")


async def special_report(session: AsyncSession, incident_id: int, *, institution: str, names: Mapping[str, str],
                         now: datetime) -> tuple[Report, cases_store.CaseFile]:
    """The 专报 of incident ``incident_id``; NotFound when there is no such incident."""
    found = await store.incident(session, incident_id)
    if found is None:
        raise NotFound(f"事件 {incident_id} 不存在或没有告警 (no incident {incident_id})")
    _row, primary = found
    file = await cases_store.load_case_file(session, primary)
    return compose_special(file, incident_id, institution=institution, names=names, now=now), file
