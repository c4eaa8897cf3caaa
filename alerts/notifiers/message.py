"""The Chinese text of an alert or a notice, shared by every channel so that mail and pushes read the same.

Pure functions over the payloads: no I/O, testable on their own.
"""

from __future__ import annotations

import re
from datetime import datetime
from types import MappingProxyType
from zoneinfo import ZoneInfo

from crawler.types import AlertPayload, NoticePayload, Payload

DEFAULT_TIMEZONE = "Asia/Shanghai"
SUBJECT_TITLE_CHARS = 60
SUBJECT_TERMS = 3

# What the 舆情信息处置 rules demand once an alert of this grade is known (DESIGN §1).
DEADLINES = MappingProxyType({
    "重大": "2 小时内报告领导，交办后 24 小时内跟踪处置结果（最迟 48 小时）",
    "一般": "24 小时内交办责任部门并通知（最迟 48 小时）",
})

_SPACE = re.compile(r"\s+")


def one_line(text: str) -> str:
    """Crawled titles may hold newlines and tabs; a header or a list line must not."""
    return _SPACE.sub(" ", text).strip()


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _local(moment: datetime, tz: ZoneInfo) -> str:
    if moment.tzinfo is None:  # a published time the page gave without a zone: show it as written
        return f"{moment:%Y-%m-%d %H:%M}"
    return f"{moment.astimezone(tz):%Y-%m-%d %H:%M:%S}（{tz.key}）"


def render_subject(alert: AlertPayload) -> str:
    """``【舆情预警·重大】化隆二幼、呕吐 — 安全生产：<title>`` — grade first, so it sorts in an inbox."""
    terms = "、".join(alert.matched_terms[:SUBJECT_TERMS])
    if len(alert.matched_terms) > SUBJECT_TERMS:
        terms += "等"
    title = _shorten(one_line(alert.title) or alert.source_name or alert.url, SUBJECT_TITLE_CHARS)
    head = f"【舆情预警·{alert.grade}】"
    return f"{head}{terms} — {alert.category}：{title}" if terms else f"{head}{alert.category}：{title}"


def render_text(alert: AlertPayload, timezone: str | ZoneInfo = DEFAULT_TIMEZONE) -> str:
    """The plain-text body: every fact a 舆情管理员 needs to judge the alert without opening the desk."""
    tz = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
    source = alert.source_name if alert.source_name == alert.source_id else f"{alert.source_name}（{alert.source_id}）"
    deadline = DEADLINES.get(alert.grade)
    lines = [
        render_subject(alert),
        "",
        f"等级：{alert.grade}" + (f"（处置时限：{deadline}）" if deadline else ""),
        f"类别：{alert.category}",
        f"规则：{alert.rule_id}",
        f"命中词：{'、'.join(alert.matched_terms) or '—'}",
        f"来源：{source}",
        f"标题：{one_line(alert.title) or '（无标题）'}",
        f"链接：{alert.url}",
        f"发现时间：{_local(alert.found_at, tz)}",
    ]
    if alert.published_at is not None:
        lines.append(f"发布时间：{_local(alert.published_at, tz)}")
    if alert.author:
        lines.append(f"作者：{one_line(alert.author)}")
    lines += [
        "",
        "摘要：",
        alert.snippet.strip() or "（无）",
        "",
        "请及时研判处置。",
        f"告警编号：{alert.alert_id}　幂等键：{alert.idempotency_key}（同一告警重发时不变）",
        "—— yuqing 舆情监测自动发送",
    ]
    return "\n".join(lines) + "\n"


NOTICE_HEADS = MappingProxyType({"source_down": "来源异常", "source_up": "来源恢复",
                                 "reminder": "时限提醒", "escalation": "超时督办"})
NOTICE_ADVICE = MappingProxyType({
    "source_down": "巡查未取得任何内容：请检查网站是否改版、被验证页拦截或 Cookie 过期；恢复时会再通知一次。",
    "source_up": "该来源已恢复正常巡查。",
    "reminder": "请在时限前完成这一步处置。",
    "escalation": "处置已超过规定时限，请督促办理；未处理前将按间隔重复提醒。",
})


def render_notice_subject(notice: NoticePayload) -> str:
    """``【来源异常】化隆吧：百度安全验证页面`` — one per change of state, never repeated while it lasts."""
    head = NOTICE_HEADS.get(notice.kind, "来源通知")
    return f"【{head}】{notice.source_name}：{_shorten(one_line(notice.message), SUBJECT_TITLE_CHARS)}"


def render_notice_text(notice: NoticePayload, timezone: str | ZoneInfo = DEFAULT_TIMEZONE) -> str:
    tz = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
    advice = NOTICE_ADVICE.get(notice.kind, "")
    return "\n".join([
        render_notice_subject(notice), "",
        f"来源：{notice.source_name}（{notice.source_id}）",
        f"地址：{notice.url}",
        f"时间：{_local(notice.found_at, tz)}",
        f"情况：{notice.message}", "", advice, "",
        f"通知编号：{notice.notice_id}　幂等键：{notice.idempotency_key}",
        "—— yuqing 舆情监测自动发送",
    ]) + "\n"


def subject_of(payload: Payload) -> str:
    return render_subject(payload) if isinstance(payload, AlertPayload) else render_notice_subject(payload)


def text_of(payload: Payload, timezone: str | ZoneInfo = DEFAULT_TIMEZONE) -> str:
    if isinstance(payload, AlertPayload):
        return render_text(payload, timezone)
    return render_notice_text(payload, timezone)
