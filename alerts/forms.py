"""The official forms of a case as Word documents: 《舆情信息报告处理单》, 交办单, 结案报告.

Laid out the way Chinese institutions lay out their paper: A4 with the GB/T 9704 margins, the
title centred in bold 宋体 (二号), numbered sections (一、二、…) in 黑体, bordered tables whose
labels are 黑体 and whose entries are 仿宋, the issuing unit and the number under the title,
blank space for handwriting wherever the system has nothing to put (研判 not written down, the
leader's instruction, signatures), and the page number in the footer. Chinese font names go in
``w:eastAsia`` of every run, so Word picks them for the Chinese text.

The builders are pure: a ``storage.workflow.CaseFile`` (the case, its text and its audit
history) in, the ``.docx`` bytes out; times are shown in Beijing time. What comes from where:

* 研判 (原因、传播途径、特点、拟处置意见): the notes written with 开始研判 / 定级 / 上报 / 误报.
  A note may label its parts — ``原因：… 传播途径：… 特点：… 拟处置意见：…`` — and each part goes
  to its row; unlabelled notes are listed under 研判记录. The copies of an incident, when there
  are several, are listed under 传播途径 as the path the system saw.
* 领导批示: every note written by a user whose role is leader; the box stays open for the pen.
* 填报人 / 填报日期: who took the case to the leader (上报领导), and when.
* 交办要求 and 交办时间: the note and time of the dispatch; 办结时限: its due time.
* 处置经过 of the 结案报告: every audit entry of the case.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from types import MappingProxyType

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.audit import ACTION_LABELS, state_label
from alerts.deadlines import DONE_IN, LABELS, Deadlines, DeadlineSettings
from alerts.officialdoc import BLANK_DATE, FOUR, TWO, WU_HAO, OfficialDocument as _Form
from alerts.officialdoc import clean as _clean
from alerts.officialdoc import span as _span
from alerts.officialdoc import when as _when
from alerts.officialdoc import date_cn as _date
from alerts.workflow import STATE_LABELS, case_deadlines
from storage import workflow as store

DEFAULT_INSTITUTION = "本单位"

# The three forms: key (as ``--kind`` takes it) → title printed on the paper.
TITLES = MappingProxyType({
    "处理单": "舆情信息报告处理单",
    "交办单": "舆情处置交办单",
    "结案报告": "舆情处置结案报告",
})
KINDS = tuple(TITLES)
_ALIASES = MappingProxyType({
    "report": "处理单", "form": "处理单", "报告处理单": "处理单", "舆情信息报告处理单": "处理单",
    "dispatch": "交办单", "舆情处置交办单": "交办单",
    "close": "结案报告", "closing": "结案报告", "结案": "结案报告", "舆情处置结案报告": "结案报告",
})


EXCERPT_CHARS = 500
BLANK_TIME = "　　年　月　日　时　分"

# Audit actions whose notes are the operator's 研判.
ASSESSMENT_ACTIONS = frozenset({"assess", "grade", "report", "false_positive"})
# 研判 parts: the row label, and the words a note may use to label that part.
ASSESSMENT_PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("原因", ("原因", "起因", "成因")),
    ("传播途径", ("传播途径", "传播路径", "传播渠道", "传播情况")),
    ("特点", ("特点", "特征")),
    ("拟处置意见", ("拟处置意见", "处置意见", "处置建议", "拟处置", "建议")),
)
_PART_OF = {word: part for part, words in ASSESSMENT_PARTS for word in words}
_PART_RE = re.compile(
    "(" + "|".join(sorted(map(re.escape, _PART_OF), key=len, reverse=True)) + r")\s*[：:]")


def form_kind(value: str) -> str:
    """The form key (处理单 / 交办单 / 结案报告) for what a person typed; ValueError when unknown."""
    value = value.strip()
    if value in TITLES:
        return value
    if value.lower() in _ALIASES:
        return _ALIASES[value.lower()]
    raise ValueError(f"未知表单「{value}」，可选：{'、'.join(KINDS)} (unknown form)")


def file_name(kind: str, alert_id: int) -> str:
    """The default file name, e.g. ``舆情信息报告处理单-告警12.docx``."""
    return f"{TITLES[form_kind(kind)]}-告警{alert_id}.docx"


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The first ``limit`` characters of the text, whitespace runs within lines folded."""
    lines = [" ".join(line.split()) for line in _clean(text).splitlines()]
    folded = "\n".join(line for line in lines if line)
    return folded if len(folded) <= limit else folded[:limit].rstrip() + "……"


def split_assessment(note: str) -> tuple[dict[str, str], str]:
    """A 研判 note's labelled parts (原因, 传播途径, 特点, 拟处置意见) and what precedes the first label."""
    parts: dict[str, str] = {}
    marks = list(_PART_RE.finditer(note))
    if not marks:
        return parts, note.strip()
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        end = following.start() if following else len(note)
        value = note[mark.end():end].strip().rstrip("；;，,").strip()
        if value:
            part = _PART_OF[mark.group(1)]
            parts[part] = f"{parts[part]}；{value}" if part in parts else value
    return parts, note[:marks[0].start()].strip().rstrip("；;，,").strip()


@dataclass(frozen=True)
class _Facts:
    """What the forms read out of a case file, worked out once."""

    assessment: dict[str, str]
    assessment_notes: list[str]
    instructions: list[str]  # 领导批示
    reported: store.Step | None
    dispatched: store.Step | None
    replied: store.Step | None
    closed: store.Step | None
    emergency: store.Step | None


def _first(history: Iterable[store.Step], action: str) -> store.Step | None:
    return next((s for s in history if s.entry.action == action), None)


def _last(history: Sequence[store.Step], action: str) -> store.Step | None:
    return next((s for s in reversed(history) if s.entry.action == action), None)


def _step_line(step: store.Step, text: str) -> str:
    e = step.entry
    return f"{e.actor}（{_when(e.at)}，{ACTION_LABELS.get(e.action, e.action)}）：{text}"


def _facts(file: store.CaseFile) -> _Facts:
    assessment: dict[str, str] = {}
    notes: list[str] = []
    instructions: list[str] = []
    for step in file.history:
        note = _clean(step.entry.note).strip()
        if not note:
            continue
        if step.role == "leader":
            instructions.append(_step_line(step, note))
        elif step.entry.action in ASSESSMENT_ACTIONS:
            parts, rest = split_assessment(note)
            for part, value in parts.items():
                assessment[part] = f"{assessment[part]}；{value}" if part in assessment else value
            if rest:
                notes.append(_step_line(step, rest))
    return _Facts(assessment, notes, instructions, _last(file.history, "report"), _last(file.history, "dispatch"),
                  _last(file.history, "reply"), _last(file.history, "close"), _first(file.history, "emergency"))


def _source(file: store.CaseFile, source_name: str | None) -> str:
    sid = file.case.source_id
    return f"{source_name}（{sid}）" if source_name and source_name != sid else sid


def _grade(file: store.CaseFile) -> str:
    return f"{file.case.grade}　紧急" if file.case.emergency else file.case.grade


def _deadline_state(kind: str, due: datetime, file: store.CaseFile, now: datetime) -> str:
    state = file.case.state
    if state == "false_positive":
        return "不再需要（误报）"
    if state in DONE_IN[kind]:
        done = next((s.entry.at for s in file.history if s.entry.to_state in DONE_IN[kind]), None)
        if done is None:
            return "已完成"
        late = (done - due).total_seconds()
        return f"已完成（{_when(done)}" + (f"，超时{_span(late)}）" if late > 0 else "）")
    left = (due - now).total_seconds()
    return f"未完成，剩余{_span(left)}" if left >= 0 else f"未完成，已超时{_span(left)}"


# --- the three forms -----------------------------------------------------------------------------

def _now(generated_at: datetime | None) -> datetime:
    return generated_at or datetime.now(timezone.utc)


def _footnote(form: _Form, file: store.CaseFile, now: datetime) -> None:
    form.note(f"本表由舆情监测系统根据告警 {file.case.alert_id} 的处置记录生成于 {_when(now)}（北京时间），"
              f"生成时状态：{STATE_LABELS.get(file.case.state, file.case.state)}。")


def _propagation(file: store.CaseFile, source_names: Mapping[str, str]) -> list[str]:
    """The copies of the incident, one line each, when the story was seen more than once."""
    seen: set[str] = set()
    copies = []
    for copy in file.copies:
        if copy.url not in seen:
            seen.add(copy.url)
            copies.append(copy)
    if len(copies) < 2:
        return []
    lines = [f"系统记录的转载 {len(copies)} 处（按发现时间）："]
    for i, copy in enumerate(copies, 1):
        name = source_names.get(copy.source_id, copy.source_id)
        lines.append(f"{i}. {_when(copy.found_at)} {name} {copy.url}")
    return lines


def build_report_form(file: store.CaseFile, *, institution: str = DEFAULT_INSTITUTION,
                      settings: DeadlineSettings | None = None, deadlines: Deadlines | None = None,
                      source_names: Mapping[str, str] | None = None,
                      generated_at: datetime | None = None) -> bytes:
    """《舆情信息报告处理单》: the case as reported to the leader, with room for the instruction."""
    case, now, names = file.case, _now(generated_at), source_names or {}
    facts = _facts(file)
    deadlines = deadlines or case_deadlines(case, settings or DeadlineSettings())
    form = _Form(TITLES["处理单"], institution, "填报单位", str(case.alert_id), now)

    form.section("一", "舆情基本情况")
    t = form.table(FOUR)
    form.row(t, [("编号", 1), (str(case.alert_id), 1), ("等级", 1), (_grade(file), 1)], labels=[0, 2])
    form.row(t, [("来源", 1), (_source(file, names.get(case.source_id)), 1), ("作者", 1), (case.author or "不详", 1)],
             labels=[0, 2])
    form.row(t, [("发现时间", 1), (_when(case.found_at), 1), ("发布时间", 1), (_when(case.published_at) or "不详", 1)],
             labels=[0, 2])
    form.kv(t, "标题", _clean(case.title) or "（无标题）")
    form.kv(t, "链接", case.url)
    form.row(t, [("类别", 1), (case.category, 1), ("规则", 1), (case.rule_id, 1)], labels=[0, 2])
    form.kv(t, "命中词", "、".join(case.terms) or "—")
    if facts.emergency is not None:
        e = facts.emergency.entry
        form.kv(t, "紧急报告", f"已先电话报告：{_clean(e.note)}（{e.actor}，{_when(e.at)}）")

    form.section("二", "内容摘要")
    t = form.table(TWO)
    form.kv(t, "命中摘要", _clean(case.snippet).strip() or "（无）")
    form.kv(t, "正文节选", excerpt(file.text) or "（无正文）")

    form.section("三", "研判意见")
    t = form.table(TWO)
    path = _propagation(file, names)
    for part, _words in ASSESSMENT_PARTS:
        value = facts.assessment.get(part)
        if part == "传播途径" and path:
            form.kv(t, part, [value, *path] if value else [*path, "", ""])
        else:
            form.kv(t, part, value, height=None if value else 1.6)
    if facts.assessment_notes:
        form.kv(t, "研判记录", facts.assessment_notes)

    form.section("四", "处置时限（北京时间）")
    t = form.table([3.0, 5.2, 7.4])
    form.row(t, [("事项", 1), ("时限", 1), ("办理情况", 1)], header=True)
    for kind, due in deadlines.items():
        form.row(t, [(LABELS[kind], 1), (_when(due), 1), (_deadline_state(kind, due, file, now), 1)],
                 labels=[0], center=[1])

    form.section("五", "领导批示")
    t = form.table(TWO)
    form.box(t, "领导批示", facts.instructions or None, "签字：", height=4.5)

    reporter = facts.reported.entry if facts.reported else None
    form.signatures(("填报人", reporter.actor if reporter else "　　　　　　"),
                    ("填报日期", _date(reporter.at if reporter else None)),
                    ("审核人", "　　　　　　"))
    _footnote(form, file, now)
    return form.bytes()


def build_dispatch_form(file: store.CaseFile, *, institution: str = DEFAULT_INSTITUTION,
                        source_names: Mapping[str, str] | None = None,
                        generated_at: datetime | None = None) -> bytes:
    """交办单: the task handed to the responsible department, its due time, the reply."""
    case, now, names = file.case, _now(generated_at), source_names or {}
    facts = _facts(file)
    dispatched = facts.dispatched.entry if facts.dispatched else None
    form = _Form(TITLES["交办单"], institution, "交办单位", str(case.alert_id), now)

    form.section("一", "交办事项")
    t = form.table(FOUR)
    form.kv(t, "承办部门", case.department, blank_lines=1)
    form.kv(t, "联系人", "；".join(file.department_contacts) or None, blank_lines=1)
    form.kv(t, "舆情标题", _clean(case.title) or "（无标题）")
    form.row(t, [("来源", 1), (_source(file, names.get(case.source_id)), 1), ("等级", 1), (_grade(file), 1)],
             labels=[0, 2])
    form.row(t, [("发现时间", 1), (_when(case.found_at), 1), ("发布时间", 1), (_when(case.published_at) or "不详", 1)],
             labels=[0, 2])
    form.kv(t, "链接", case.url)
    form.kv(t, "舆情摘要", [_clean(case.snippet).strip() or "（无）", f"类别：{case.category}；命中词："
                        f"{'、'.join(case.terms) or '—'}"])
    form.kv(t, "交办要求", _clean(dispatched.note).strip() if dispatched and dispatched.note else
            "请核实情况，依规处置，并在办结时限前书面反馈处置结果。")
    if facts.instructions:
        form.kv(t, "领导批示", facts.instructions)

    form.section("二", "办理要求")
    t = form.table(FOUR)
    form.row(t, [("交办人", 1), (dispatched.actor if dispatched else None, 1),
                 ("交办时间", 1), (_when(dispatched.at) if dispatched else BLANK_TIME, 1)],
             labels=[0, 2], blank_lines=1)
    due = case.due.get("reply")
    form.kv(t, "办结时限", f"{_when(due)}前反馈处置结果" if due else None, blank_lines=1)
    form.row(t, [("承办人签字", 1), (None, 1), ("签收时间", 1), (BLANK_TIME, 1)], labels=[0, 2], height=1.4,
             blank_lines=1)

    form.section("三", "办理结果反馈")
    t = form.table(FOUR)
    replied = facts.replied.entry if facts.replied else None
    form.kv(t, "处置情况", _clean(case.reply_text).strip() or None, height=4.0, blank_lines=4)
    form.row(t, [("反馈人", 1), (replied.actor if replied else None, 1),
                 ("反馈时间", 1), (_when(replied.at) if replied else BLANK_TIME, 1)],
             labels=[0, 2], blank_lines=1)
    form.row(t, [("部门负责人签字", 1), (None, 1), ("日期", 1), (BLANK_DATE, 1)], labels=[0, 2], height=1.4,
             blank_lines=1)
    _footnote(form, file, now)
    return form.bytes()


def _timeline_note(step: store.Step) -> str:
    e = step.entry
    detail = e.detail or {}
    parts = []
    if "department" in detail:
        parts.append(f"交办{detail['department']}")
    if "due" in detail:
        parts.append(f"期限{_when(datetime.fromisoformat(str(detail['due'])))}")
    if "grade" in detail:
        parts.append(f"等级{detail.get('from_grade', '')}→{detail['grade']}")
    if e.action == "reply":
        parts.append("处置结果见第三部分")
    if e.action == "close":
        parts.append("结案报告见第四部分")
    if e.note:
        parts.append(_clean(e.note).strip())
    return "；".join(parts)


def build_closing_report(file: store.CaseFile, *, institution: str = DEFAULT_INSTITUTION,
                         source_names: Mapping[str, str] | None = None,
                         generated_at: datetime | None = None) -> bytes:
    """结案报告: what happened (the audit trail), the result, the evaluation, when it closed."""
    case, now, names = file.case, _now(generated_at), source_names or {}
    facts = _facts(file)
    form = _Form(TITLES["结案报告"], institution, "报告单位", str(case.alert_id), now)

    form.section("一", "舆情概况")
    t = form.table(FOUR)
    form.kv(t, "标题", _clean(case.title) or "（无标题）")
    form.row(t, [("来源", 1), (_source(file, names.get(case.source_id)), 1), ("等级", 1), (_grade(file), 1)],
             labels=[0, 2])
    form.row(t, [("发现时间", 1), (_when(case.found_at), 1), ("责任部门", 1), (case.department or "—", 1)],
             labels=[0, 2])
    form.kv(t, "链接", case.url)
    form.kv(t, "内容摘要", _clean(case.snippet).strip() or "（无）")

    form.section("二", "处置经过")
    t = form.table([1.0, 3.2, 2.0, 3.4, 6.0])
    form.row(t, [("序号", 1), ("时间", 1), ("操作人", 1), ("操作", 1), ("说明", 1)], header=True, size=WU_HAO)
    for i, step in enumerate(file.history, 1):
        e = step.entry
        moved = f"（{state_label(e.to_state)}）" if e.from_state == e.to_state else \
            f"（{state_label(e.from_state)}→{state_label(e.to_state)}）"
        form.row(t, [(str(i), 1), (_when(e.at).replace(" ", "\n"), 1), (e.actor, 1),
                     ([ACTION_LABELS.get(e.action, e.action), moved], 1), (_timeline_note(step) or "—", 1)],
                 center=[0, 1, 2, 3], size=WU_HAO)
    if not file.history:
        form.row(t, [("（尚无处置记录）", 5)], center=[0], size=WU_HAO)

    form.section("三", "处置结果")
    t = form.table(TWO)
    replied = facts.replied.entry if facts.replied else None
    result = _clean(case.reply_text).strip()
    if result:
        by = f"（{case.department or '责任部门'} {replied.actor} 反馈于 {_when(replied.at)}）" if replied else ""
        form.kv(t, "处置结果", [result, by] if by else result)
    else:
        form.kv(t, "处置结果", None, height=3.0, blank_lines=3)

    form.section("四", "效果评估")
    t = form.table(TWO)
    closing = _clean(case.closing_report).strip()
    form.kv(t, "效果评估", closing or None, height=None if closing else 3.0, blank_lines=3)

    form.section("五", "结案")
    t = form.table(FOUR)
    closed = facts.closed.entry if facts.closed else None
    form.row(t, [("结案时间", 1), (_when(closed.at) if closed else "（尚未结案）", 1),
                 ("结案人", 1), (closed.actor if closed else None, 1)], labels=[0, 2], blank_lines=1)
    if facts.instructions:
        form.kv(t, "领导批示", facts.instructions)
    form.signatures(("报告人", "　　　　　　"), ("审核人", "　　　　　　"),
                    ("日期", _date(closed.at if closed else None)))
    _footnote(form, file, now)
    return form.bytes()


BUILDERS: Mapping[str, Callable[..., bytes]] = MappingProxyType({
    "处理单": build_report_form,
    "交办单": build_dispatch_form,
    "结案报告": build_closing_report,
})


def build_form(kind: str, file: store.CaseFile, *, institution: str = DEFAULT_INSTITUTION,
               settings: DeadlineSettings | None = None, source_names: Mapping[str, str] | None = None,
               generated_at: datetime | None = None) -> bytes:
    """Any of the three forms by its key (or an alias: report, dispatch, close)."""
    kind = form_kind(kind)
    extra = {"settings": settings} if kind == "处理单" else {}
    return BUILDERS[kind](file, institution=institution, source_names=source_names, generated_at=generated_at,
                          **extra)


async def render_form(session: AsyncSession, alert_id: int, kind: str, *, institution: str = DEFAULT_INSTITUTION,
                      settings: DeadlineSettings | None = None, source_names: Mapping[str, str] | None = None,
                      generated_at: datetime | None = None) -> bytes:
    """The form of one alert, read from the database; storage's NotFound when there is no such alert."""
    file = await store.load_case_file(session, alert_id)
    return build_form(kind, file, institution=institution, settings=settings, source_names=source_names,
                      generated_at=generated_at)
