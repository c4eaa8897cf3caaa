"""The Chinese text of an alert or a notice, shared by every channel so that mail and pushes read the same.

Pure functions over the payloads: no I/O, testable on their own. One list of facts per payload
(:func:`_alert_parts`, :func:`_notice_parts`) is laid out twice: as plain text (email, webhook,
Feishu) and as markdown (DingTalk and WeCom robots). ``body_chars`` shortens the one free-text part
(an alert's snippet, a notice's message) for channels with a size limit; the rest is never cut.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import NamedTuple
from urllib.parse import urlsplit
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


class Fact(NamedTuple):
    label: str
    value: str
    is_url: bool = False


@dataclass(frozen=True)
class _Parts:
    """What a payload says, before it is laid out as text or markdown."""

    subject: str
    facts: tuple[Fact, ...]
    body: tuple[str, str] | None  # (label, free text) shown as its own block: an alert's snippet
    tail: tuple[tuple[str, ...], ...]  # closing blocks of lines (advice, ids, signature)


TRUNCATED = "…（以下已截断，原文共 {} 字）"


def clip(text: str, chars: int | None) -> str:
    """``text`` cut to ``chars`` characters with a note saying so; ``None``: whole."""
    if chars is None or len(text) <= chars:
        return text
    return text[:chars].rstrip() + TRUNCATED.format(len(text))


def _alert_parts(alert: AlertPayload, tz: ZoneInfo, body_chars: int | None = None) -> _Parts:
    source = alert.source_name if alert.source_name == alert.source_id else f"{alert.source_name}（{alert.source_id}）"
    deadline = DEADLINES.get(alert.grade)
    facts = [
        Fact("等级", alert.grade + (f"（处置时限：{deadline}）" if deadline else "")),
        Fact("类别", alert.category),
        Fact("规则", alert.rule_id),
        Fact("命中词", "、".join(alert.matched_terms) or "—"),
        Fact("来源", source),
        Fact("标题", one_line(alert.title) or "（无标题）"),
        Fact("链接", alert.url, is_url=True),
        Fact("发现时间", _local(alert.found_at, tz)),
    ]
    if alert.published_at is not None:
        facts.append(Fact("发布时间", _local(alert.published_at, tz)))
    if alert.author:
        facts.append(Fact("作者", one_line(alert.author)))
    return _Parts(
        subject=render_subject(alert),
        facts=tuple(facts),
        body=("摘要", clip(alert.snippet.strip(), body_chars) or "（无）"),
        tail=(("请及时研判处置。",
               f"告警编号：{alert.alert_id}　幂等键：{alert.idempotency_key}（同一告警重发时不变）",
               "—— yuqing 舆情监测自动发送"),),
    )


def _as_text(parts: _Parts) -> str:
    blocks = [(parts.subject,), tuple(f"{label}：{value}" for label, value, _ in parts.facts)]
    if parts.body is not None:
        blocks.append((f"{parts.body[0]}：", parts.body[1]))
    blocks += parts.tail
    return "\n\n".join("\n".join(block) for block in blocks) + "\n"


def render_text(alert: AlertPayload, timezone: str | ZoneInfo = DEFAULT_TIMEZONE, *, body_chars: int | None = None) -> str:
    """The plain-text body: every fact a 舆情管理员 needs to judge the alert without opening the desk."""
    return _as_text(_alert_parts(alert, _zone(timezone), body_chars))


def _zone(timezone: str | ZoneInfo) -> ZoneInfo:
    return timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)


NOTICE_HEADS = MappingProxyType({"source_down": "来源异常", "source_up": "来源恢复",
                                 "reminder": "时限提醒", "escalation": "超时督办", "digest": "一般舆情汇总"})
NOTICE_ADVICE = MappingProxyType({
    "source_down": "巡查未取得任何内容：请检查网站是否改版、被验证页拦截或 Cookie 过期；恢复时会再通知一次。",
    "source_up": "该来源已恢复正常巡查。",
    "reminder": "请在时限前完成这一步处置。",
    "escalation": "处置已超过规定时限，请督促办理；未处理前将按间隔重复提醒。",
    "digest": "以上为本时段的一般舆情，请逐条研判（yuqing alerts list）；重大舆情已即时推送。",
})


def render_notice_subject(notice: NoticePayload) -> str:
    """``【来源异常】化隆吧：百度安全验证页面`` — one per change of state, never repeated while it lasts."""
    head = NOTICE_HEADS.get(notice.kind, "来源通知")
    if not notice.url:  # not about one source or page (the 一般 digest): its first line says it all
        return f"【{head}】{_shorten(notice.message.splitlines()[0], SUBJECT_TITLE_CHARS)}"
    return f"【{head}】{notice.source_name}：{_shorten(one_line(notice.message), SUBJECT_TITLE_CHARS)}"


def _notice_parts(notice: NoticePayload, tz: ZoneInfo, body_chars: int | None = None) -> _Parts:
    return _Parts(
        subject=render_notice_subject(notice),
        facts=(Fact("时间", _local(notice.found_at, tz)), Fact("内容", clip(notice.message, body_chars))) if not notice.url
        else (Fact("来源", f"{notice.source_name}（{notice.source_id}）"),
              Fact("地址", notice.url, is_url=True),
              Fact("时间", _local(notice.found_at, tz)),
              Fact("情况", clip(notice.message, body_chars))),
        body=None,
        tail=((NOTICE_ADVICE.get(notice.kind, ""),),
              (f"通知编号：{notice.notice_id}　幂等键：{notice.idempotency_key}", "—— yuqing 舆情监测自动发送")),
    )


def render_notice_text(notice: NoticePayload, timezone: str | ZoneInfo = DEFAULT_TIMEZONE, *,
                       body_chars: int | None = None) -> str:
    return _as_text(_notice_parts(notice, _zone(timezone), body_chars))


def subject_of(payload: Payload) -> str:
    return render_subject(payload) if isinstance(payload, AlertPayload) else render_notice_subject(payload)


def _parts_of(payload: Payload, timezone: str | ZoneInfo, body_chars: int | None) -> _Parts:
    if isinstance(payload, AlertPayload):
        return _alert_parts(payload, _zone(timezone), body_chars)
    return _notice_parts(payload, _zone(timezone), body_chars)


def text_of(payload: Payload, timezone: str | ZoneInfo = DEFAULT_TIMEZONE, *, body_chars: int | None = None) -> str:
    """The plain text of either payload; ``body_chars`` shortens the snippet (or a notice's message)."""
    return _as_text(_parts_of(payload, timezone, body_chars))


# Characters that DingTalk's or WeCom's markdown would act on, in text that came from crawled pages
# (a title such as ``[点此](http://…)`` must not become a link, nor ``<font>`` a colour), replaced by
# their full-width forms, which read the same in Chinese text. Backslash escapes are not used: not
# every client honours them.
_MARKDOWN_ACTIVE = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in "\\`*_[]()<>#|~!"})
_URL_UNSAFE = str.maketrans({" ": "%20", "(": "%28", ")": "%29", "<": "%3C", ">": "%3E"})


def markdown_escape(text: str) -> str:
    """One line of ``text`` that markdown shows as written."""
    return one_line(text).translate(_MARKDOWN_ACTIVE)


def _markdown_link(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return markdown_escape(url)
    return f"[查看原文]({url.translate(_URL_UNSAFE)})（{markdown_escape(parts.hostname)}）"


def markdown_of(payload: Payload, timezone: str | ZoneInfo = DEFAULT_TIMEZONE, *,
                line_break: str = "\n", body_chars: int | None = None) -> str:
    """The same facts as :func:`text_of` in the markdown both DingTalk and WeCom robots render.

    Labels in bold (``**等级**：`` — the colon outside, or CJK bold fails), the snippet as a quote,
    links as ``[查看原文](url)``; every crawled value escaped. ``line_break`` separates lines inside a
    block: ``"\\n"`` for WeCom, ``"\\n\\n"`` for DingTalk (where a single newline may be joined).
    """
    parts = _parts_of(payload, timezone, body_chars)
    blocks = [[f"#### {markdown_escape(parts.subject)}"],
              [f"**{label}**：{_markdown_link(value) if is_url else markdown_escape(value)}"
               for label, value, is_url in parts.facts]]
    if parts.body is not None:
        blocks.append([f"**{parts.body[0]}**：", f"> {markdown_escape(parts.body[1])}"])
    blocks += [[markdown_escape(line) for line in block if line] for block in parts.tail]
    return "\n\n".join(line_break.join(block) for block in blocks if block) + "\n"
