"""The audit log for 督查: prove it is whole (``verify``) and hand it over as a spreadsheet (``to_csv``).

The chain format is storage's (``storage.workflow.entry_hash``). Verification walks the entries
in order and names the first one that was edited or deleted. The chain alone cannot see entries
cut off its end, so ``verify`` also compares each alert's state with the state its last entry
recorded, and reports the head hash: written down or sent elsewhere, it anchors the log.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from types import MappingProxyType
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.deadlines import CHINA
from alerts.workflow import RULES, STATE_LABELS
from storage import workflow as store

ACTION_LABELS = MappingProxyType({
    **{action: rule.label for action, rule in RULES.items()},
    "user_add": "添加用户",
    "department_add": "添加部门",
    "split": "拆分为独立事件",
})
CSV_HEADER = ("序号", "时间（北京时间）", "操作人", "告警编号", "操作", "原状态", "新状态", "说明", "详情",
              "UTC 时间", "前一条哈希", "本条哈希")


@dataclass(frozen=True)
class Verdict:
    count: int  # entries read
    head: str  # hash of the last entry; the anchor to write down
    broken_seq: int | None = None  # the first entry edited or deleted
    problem: str | None = None  # Chinese, then English

    @property
    def ok(self) -> bool:
        return self.problem is None


def check_chain(entries: Iterable[store.AuditEntry]) -> Verdict:
    """The first place where the chain breaks, walking entries in ``seq`` order."""
    expected, prev, count = 1, store.GENESIS, 0
    for entry in entries:
        if entry.seq != expected:
            gone = f"{expected}" if entry.seq == expected + 1 else f"{expected}–{entry.seq - 1}"
            return Verdict(count, prev, expected, f"第 {gone} 条记录被删除 (entry {gone} was deleted)")
        if store.entry_hash(entry) != entry.hash:
            return Verdict(count, prev, entry.seq, f"第 {entry.seq} 条记录被修改 (entry {entry.seq} was modified)")
        if entry.prev_hash != prev:
            before = f"第 {entry.seq - 1} 条或" if entry.seq > 1 else ""
            return Verdict(count, prev, entry.seq,
                           f"第 {entry.seq} 条记录与前一条的链接断开：{before}第 {entry.seq} 条被修改或替换 "
                           f"(entry {entry.seq} does not chain to its predecessor: one was modified or replaced)")
        expected, prev, count = entry.seq + 1, entry.hash, count + 1
    return Verdict(count, prev)


async def verify(session: AsyncSession) -> Verdict:
    """The chain, then every alert's state against its last audited state."""
    verdict = check_chain([entry async for entry in store.audit_entries(session)])
    if not verdict.ok:
        return verdict
    for alert_id, state, audited in await store.unaudited_states(session):
        was = f"「{state_label(audited)}」" if audited else "（无记录）"
        return Verdict(verdict.count, verdict.head, None,
                       f"告警 {alert_id} 当前为「{state_label(state)}」，审计日志最后记录为{was}："
                       f"记录可能被删除，或状态未经处置流程被改动 (alert {alert_id} is {state} but its audit trail "
                       f"ends at {audited or 'nothing'}: entries deleted or the state changed outside the workflow)")
    return verdict


def state_label(state: str | None) -> str:
    return STATE_LABELS.get(state, state) if state else ""


def to_csv(entries: Iterable[store.AuditEntry], tz: ZoneInfo = CHINA) -> str:
    """CSV text for Excel: Chinese labels and local times first, the exact chain fields last."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    for e in entries:
        writer.writerow([
            e.seq, f"{e.at.astimezone(tz):%Y-%m-%d %H:%M:%S}", e.actor, e.alert_id or "",
            ACTION_LABELS.get(e.action, e.action),
            state_label(e.from_state), state_label(e.to_state),
            e.note or "", json.dumps(e.detail, ensure_ascii=False) if e.detail else "",
            e.at.isoformat(timespec="microseconds"), e.prev_hash, e.hash,
        ])
    return buffer.getvalue()
