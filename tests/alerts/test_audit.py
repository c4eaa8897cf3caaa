"""The audit log resists tampering: the database refuses edits, and the hash chain names any that get through."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import audit
from alerts.deadlines import DeadlineSettings
from alerts.people import add_department, add_user
from alerts.workflow import Request, apply
from crawler.types import Hit, Item, TermMatch
from storage import queries
from storage import workflow as store

T0 = datetime(2026, 10, 9, 2, 0, tzinfo=timezone.utc)
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def closed_case(sessions: Sessions) -> int:
    """Entries 1–2 add a department and a user; 3–7 take the alert from new to closed."""
    item = Item(url="http://bbs.example.cn/thread-1-1-1.html", source_id="school-bbs", title="化隆二幼 收费",
                text="化隆二幼乱收费", fetched_at=T0)
    hit = Hit("fees", "损害单位声誉", "一般", (TermMatch("化隆二幼", "text", 0, 4),), "化隆二幼乱收费")
    async with sessions() as s:
        stored = await queries.store_item(s, item, [hit], now=T0, channels_for=lambda g: [])
        await add_department(s, name="财务处", actor="cli:root", now=T0)
        await add_user(s, name="小李", role="operator", actor="cli:root", now=T0)
    assert stored is not None
    (alert_id,) = stored.alert_ids
    steps = [Request("assess"), Request("report", note="处理单已送"),
             Request("dispatch", department="财务处", due=T0 + timedelta(days=1)),
             Request("reply", text="已退还多收费用"), Request("close", report="已结案，家长满意")]
    for n, step in enumerate(steps, 1):
        async with sessions() as s:
            await apply(s, alert_id, "小李", step, settings=DeadlineSettings(), now=T0 + timedelta(minutes=n))
    return alert_id


async def verdict(sessions: Sessions) -> audit.Verdict:
    async with sessions() as s:
        return await audit.verify(s)


async def raw(sessions: Sessions, sql: str) -> None:
    async with sessions() as s:
        await s.execute(text(sql))
        await s.commit()


async def drop_guards(sessions: Sessions) -> None:
    """What a determined tamperer with database rights would do first."""
    async with sessions() as s:
        if s.get_bind().dialect.name == "sqlite":
            await s.execute(text("DROP TRIGGER audit_log_no_update"))
            await s.execute(text("DROP TRIGGER audit_log_no_delete"))
        else:
            await s.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        await s.commit()


async def test_intact_log_verifies(sessions: Sessions, closed_case: int) -> None:
    v = await verdict(sessions)
    assert v.ok and v.count == 7 and v.broken_seq is None and len(v.head) == 64


async def test_the_database_refuses_edits_and_deletes(sessions: Sessions, closed_case: int) -> None:
    for sql in ("UPDATE audit_log SET note = '改过' WHERE seq = 4", "DELETE FROM audit_log WHERE seq = 4"):
        with pytest.raises(DBAPIError, match="append-only"):
            await raw(sessions, sql)
    assert (await verdict(sessions)).ok


async def test_an_edited_note_is_found_at_its_seq(sessions: Sessions, closed_case: int) -> None:
    await drop_guards(sessions)
    await raw(sessions, "UPDATE audit_log SET note = '处理单已送（补）' WHERE seq = 4")
    v = await verdict(sessions)
    assert not v.ok and v.broken_seq == 4 and v.count == 3
    assert v.problem == "第 4 条记录被修改 (entry 4 was modified)"


async def test_a_deleted_entry_is_found(sessions: Sessions, closed_case: int) -> None:
    await drop_guards(sessions)
    await raw(sessions, "DELETE FROM audit_log WHERE seq = 5")
    v = await verdict(sessions)
    assert v.broken_seq == 5 and v.problem == "第 5 条记录被删除 (entry 5 was deleted)"
    await raw(sessions, "DELETE FROM audit_log WHERE seq IN (1, 2)")
    assert (await verdict(sessions)).problem == "第 1–2 条记录被删除 (entry 1–2 was deleted)"


async def test_a_rewritten_entry_with_a_fresh_hash_breaks_the_link(sessions: Sessions, closed_case: int) -> None:
    await drop_guards(sessions)
    async with sessions() as s:
        entry = [e async for e in store.audit_entries(s)][3]
    forged = replace(entry, actor="王校长")
    forged = replace(forged, hash=store.entry_hash(forged))
    await raw(sessions, f"UPDATE audit_log SET actor = '王校长', hash = '{forged.hash}' WHERE seq = 4")
    v = await verdict(sessions)
    assert v.broken_seq == 5 and "第 4 条或第 5 条被修改或替换" in (v.problem or "")


async def test_cutting_off_the_tail_is_found_through_the_alert_state(sessions: Sessions, closed_case: int) -> None:
    await drop_guards(sessions)
    await raw(sessions, "DELETE FROM audit_log WHERE seq = 7")  # the closing entry: the chain itself stays whole
    v = await verdict(sessions)
    assert not v.ok and v.broken_seq is None
    assert v.problem is not None and v.problem.startswith(f"告警 {closed_case} 当前为「已结案」，审计日志最后记录为「已反馈」")


def test_check_chain_on_an_empty_log() -> None:
    assert audit.check_chain([]) == audit.Verdict(0, store.GENESIS)


async def test_csv_export_opens_in_excel_with_every_row(sessions: Sessions, closed_case: int) -> None:
    async with sessions() as s:
        entries = [e async for e in store.audit_entries(s)]
    data = audit.to_csv(entries).encode("utf-8-sig")
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM makes Excel read UTF-8
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == list(audit.CSV_HEADER) and len(rows) == 1 + 7
    by_seq = {row[0]: row for row in rows[1:]}
    assert by_seq["1"][4] == "添加部门" and by_seq["1"][3] == ""
    assert by_seq["4"][1:8] == ["2026-10-09 10:02:00", "小李", str(closed_case), "上报领导", "研判中", "已上报", "处理单已送"]
    assert '"department": "财务处"' in by_seq["5"][8]
    assert by_seq["7"][11] == entries[-1].hash and by_seq["7"][10] == entries[-2].hash
