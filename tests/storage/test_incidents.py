"""Reposts fold into one incident when they are stored (SQLite and PostgreSQL): one alert goes
out per story, every copy is kept in order, and a wrong fold can be split off, audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from alerts.audit import verify
from alerts.workflow import Request, WorkflowError, split
from cases import T0, Sessions, act, history, seed_people
from crawler.types import Hit, Item, TermMatch
from storage import queries
from storage import workflow as store
from storage.models import AlertRow, DeliveryRow, IncidentRow
from stories import PUDDLES as OTHER
from stories import REPOST, STORY

FOOD = Hit("food-safety", "安全生产", "重大", (TermMatch("化隆二幼", "text", 0, 4),), "【化隆二幼】幼儿呕吐")
FEES = Hit("fees", "损害单位声誉", "一般", (TermMatch("化隆二幼", "text", 0, 4),), "【化隆二幼】收费")


def page(url: str, text: str, source: str = "county-news") -> Item:
    return Item(url=url, source_id=source, title="化隆二幼多名幼儿午餐后呕吐", text=text, fetched_at=T0)


def entry(item: Item, *hits: Hit, at=T0) -> queries.NewItem:
    return queries.NewItem(item, list(hits), at, lambda grade: ["mail", "hook"])


async def keep(sessions: Sessions, *entries: queries.NewItem) -> list[int]:
    async with sessions() as s:
        stored = await queries.store_items(s, list(entries))
    return [alert for one in stored if one for alert in one.alert_ids]


async def deliveries(sessions: Sessions, alert_id: int) -> int:
    async with sessions() as s:
        return await s.scalar(select(func.count()).select_from(DeliveryRow).where(DeliveryRow.alert_id == alert_id))


async def test_a_repost_on_another_site_folds_into_the_first_alerts_incident(sessions: Sessions) -> None:
    [first] = await keep(sessions, entry(page("http://a.cn/1.html", STORY), FOOD))
    [repost] = await keep(sessions, entry(page("http://b.cn/9.html", REPOST, "tieba-hualong"), FOOD,
                                           at=T0 + timedelta(hours=2)))
    [other] = await keep(sessions, entry(page("http://c.cn/2.html", OTHER), FOOD, at=T0 + timedelta(hours=3)))
    async with sessions() as s:
        primary, copy, unrelated = [await store.load_case(s, a) for a in (first, repost, other)]
        assert primary.incident_id == copy.incident_id != unrelated.incident_id
        assert (primary.copy_of, copy.copy_of, unrelated.copy_of) == (None, first, None)
        # the queue (and the escalator) see one case per story; the repost is there when asked for
        assert [c.alert_id for c in await store.list_cases(s)] == [other, first]
        assert [c.alert_id for c in await store.list_cases(s, reposts=True)] == [other, repost, first]
        [incident] = await store.list_incidents(s, incident_id=primary.incident_id)
    assert [c.url for c in incident.copies] == ["http://a.cn/1.html", "http://b.cn/9.html"]
    assert (incident.primary_alert_id, incident.sources, incident.state, incident.grade) == (first, 2, "new", "重大")
    # one alert goes out per story: the repost is a line in the propagation path, not a new message
    assert (await deliveries(sessions, first), await deliveries(sessions, repost), await deliveries(sessions, other)) \
        == (2, 0, 2)


async def test_copies_within_one_batch_fold_and_a_page_with_two_hits_is_one_copy(sessions: Sessions) -> None:
    first, second, repost = await keep(sessions, entry(page("http://a.cn/1.html", STORY), FOOD, FEES),
                                        entry(page("http://b.cn/9.html", REPOST, "tieba-hualong"), FOOD))
    async with sessions() as s:
        cases = [await store.load_case(s, a) for a in (first, second, repost)]
        assert len({c.incident_id for c in cases}) == 1
        assert [c.copy_of for c in cases] == [None, first, first]
        copies = await store.incident_copies(s, cases[0].incident_id)
    assert [(c.alert_id, c.source_id) for c in copies] == [(first, "county-news"), (repost, "tieba-hualong")]
    assert await deliveries(sessions, repost) == 0


async def test_a_story_back_after_closure_or_after_a_week_is_a_new_case(sessions: Sessions) -> None:
    [first] = await keep(sessions, entry(page("http://a.cn/1.html", STORY), FOOD))
    [late] = await keep(sessions, entry(page("http://b.cn/9.html", REPOST), FOOD, at=T0 + queries.FOLD_WITHIN
                                         + timedelta(minutes=1)))
    async with sessions() as s:
        assert (await store.load_case(s, late)).copy_of is None
        await s.execute(update(AlertRow).where(AlertRow.id == late).values(state="closed"))
        await s.commit()
    [again] = await keep(sessions, entry(page("http://c.cn/3.html", REPOST), FOOD, at=T0 + timedelta(days=8)))
    async with sessions() as s:
        case = await store.load_case(s, again)
        assert case.copy_of is None and await s.scalar(select(func.count()).select_from(IncidentRow)) == 3
    assert await deliveries(sessions, again) == 2


async def test_a_repost_is_worked_through_its_primary_and_a_wrong_fold_is_split_off(sessions: Sessions) -> None:
    await seed_people(sessions)
    [first] = await keep(sessions, entry(page("http://a.cn/1.html", STORY), FOOD))
    [repost] = await keep(sessions, entry(page("http://b.cn/9.html", REPOST), FOOD))
    with pytest.raises(WorkflowError, match=f"随主告警 {first}"):
        await act(sessions, repost, "小李", Request("assess"), T0)
    assert await act(sessions, first, "小李", Request("assess"), T0) == "assessing"
    async with sessions() as s:
        with pytest.raises(WorkflowError, match="无权拆分"):
            await split(s, repost, "王校长", now=T0)
    async with sessions() as s:
        done = await split(s, repost, "小李", note="另一所幼儿园的事", now=T0 + timedelta(minutes=5))
    assert (done.action, done.from_state, done.to_state) == ("split", "new", "new")
    async with sessions() as s:
        case = await store.load_case(s, repost)
        [incident] = await store.list_incidents(s, incident_id=case.incident_id)
    async with sessions() as s:
        with pytest.raises(WorkflowError, match="不是转载"):
            await split(s, repost, "小李", now=T0)
    assert case.copy_of is None and incident.primary_alert_id == repost and len(incident.copies) == 1
    assert await act(sessions, repost, "小李", Request("assess"), T0 + timedelta(minutes=6)) == "assessing"
    [entry_] = [e for e in await history(sessions, repost) if e.action == "split"]
    assert entry_.note == "另一所幼儿园的事" and entry_.detail["primary_was"] == first
    async with sessions() as s:
        assert (await verify(s)).ok
