"""The outbox and ledger queries against real databases (SQLite and PostgreSQL)."""

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crawler.types import Hit, Item, RunStats, TermMatch
from storage import db, queries
from storage.models import AlertRow, DeliveryRow, HitRow, ItemRow

NOW = datetime(2026, 11, 30, 5, 7, tzinfo=timezone.utc)


def item(url: str = "http://news.example.cn/a/1.html") -> Item:
    return Item(url=url, source_id="county-news", title="化隆二幼多名幼儿午餐后呕吐",
                text="家长反映，化隆二幼多名幼儿午餐后出现呕吐、腹泻症状。", fetched_at=NOW)


HIT = Hit("food-safety", "安全生产", "重大", (TermMatch("化隆二幼", "text", 5, 9), TermMatch("呕吐", "text", 18, 20)),
          "家长反映，【化隆二幼】多名幼儿午餐后出现【呕吐】")


def channels(grade: str) -> list[str]:
    return ["mail", "hook"] if grade == "重大" else ["mail"]


async def count(sessions: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessions() as s:
        return await s.scalar(select(func.count()).select_from(model))


async def test_item_hit_alert_and_deliveries_in_one_transaction(sessions) -> None:
    async with sessions() as s:
        stored = await queries.store_item(s, item(), [HIT], now=NOW, channels_for=channels, body_sha256="ab" * 32)
    assert stored is not None and len(stored.alert_ids) == 1
    assert (await count(sessions, ItemRow), await count(sessions, HitRow), await count(sessions, AlertRow),
            await count(sessions, DeliveryRow)) == (1, 1, 1, 2)
    async with sessions() as s:
        again = await queries.store_item(s, item(), [HIT], now=NOW, channels_for=channels)
        assert again is None  # the same URL twice: nothing duplicated
        assert await queries.seen_urls(s, [item().url, "http://other/"]) == {item().url}
    assert await count(sessions, AlertRow) == 1
    async with sessions() as s:
        [view] = await queries.list_hits(s)
    assert (view.rule_id, view.grade, view.terms, view.found_at) == ("food-safety", "重大", ["化隆二幼", "呕吐"], NOW)
    assert view.title == "化隆二幼多名幼儿午餐后呕吐"


async def test_claim_is_exclusive_and_lease_expiry_resends(sessions) -> None:
    async with sessions() as s:
        await queries.store_item(s, item(), [HIT], now=NOW, channels_for=channels)
    async with sessions() as s:
        first = await queries.claim_deliveries(s, NOW, lambda ch: 30)
    assert sorted(c.channel for c in first) == ["hook", "mail"]
    assert first[0].payload.idempotency_key == queries.idempotency_key(item().url, "food-safety")
    async with sessions() as s:
        assert await queries.claim_deliveries(s, NOW + timedelta(seconds=10), lambda ch: 30) == []
    mail = next(c for c in first if c.channel == "mail")
    async with sessions() as s:
        await queries.mark_sent(s, mail.delivery_id, NOW)
    # the process that claimed "hook" died: after the lease the row is claimable again, same key
    async with sessions() as s:
        again = await queries.claim_deliveries(s, NOW + timedelta(seconds=31), lambda ch: 30)
    assert [(c.channel, c.attempts) for c in again] == [("hook", 2)]
    assert again[0].payload.idempotency_key == first[0].payload.idempotency_key
    async with sessions() as s:
        await queries.mark_retry(s, again[0].delivery_id, NOW + timedelta(minutes=5), "HTTP 500")
        assert await queries.claim_deliveries(s, NOW + timedelta(minutes=1), lambda ch: 30) == []
        assert await queries.next_delivery_due(s) == NOW + timedelta(minutes=5)
        assert await queries.delivery_counts(s) == {"sent": 1, "pending": 1}


async def test_patrol_ledger(sessions) -> None:
    window = NOW.replace(minute=0)
    async with sessions() as s:
        crashed = await queries.start_run(s, "county-news", "window", NOW, window, window + timedelta(hours=1))
    async with sessions() as s:
        assert await queries.abort_stale_runs(s, NOW) == 1
        assert not await queries.window_was_patrolled(s, "county-news", window)  # aborted does not count
        run_id = await queries.start_run(s, "county-news", "catchup", NOW, window, window + timedelta(hours=1))
    async with sessions() as s:
        await queries.finish_run(s, run_id, RunStats(fetched=3, items=5, new_items=2, hits=1), "ok", NOW)
        assert await queries.window_was_patrolled(s, "county-news", window)
        runs = await queries.list_runs(s)
    by_id = {r.id: r for r in runs}
    assert by_id[crashed].status == "aborted"
    assert (by_id[run_id].status, by_id[run_id].new_items, by_id[run_id].window_start) == ("ok", 2, window)


async def test_upgrade_is_idempotent(db_url: str) -> None:
    engine = db.make_engine(db_url)
    await db.upgrade(engine)
    await db.upgrade(engine)
    await engine.dispose()
