"""The outbox against real databases and a real webhook receiver: retries, no loss, no duplicates."""

from datetime import datetime, timedelta, timezone

import pytest
from loopback import WebhookReceiver

from alerts.notifiers.webhook import WebhookNotifier
from alerts.outbox import Backoff, Outbox
from crawler.types import Hit, Item, TermMatch
from storage import queries

T0 = datetime(2026, 11, 30, 5, 7, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _item(n: int) -> Item:
    return Item(url=f"http://news.example.cn/{n}.html", source_id="county-news", title=f"化隆二幼 {n}",
                text="化隆二幼多名幼儿呕吐", fetched_at=T0)


HIT = Hit("food-safety", "安全生产", "重大", (TermMatch("化隆二幼", "text", 0, 4),), "【化隆二幼】多名幼儿呕吐")


@pytest.fixture
async def receiver():
    hook = await WebhookReceiver().start()
    yield hook
    await hook.stop()


async def _store(sessions, n: int) -> None:
    for i in range(n):
        async with sessions() as s:
            await queries.store_item(s, _item(i), [HIT], now=T0, channels_for=lambda grade: ["hook"])


async def test_failed_delivery_waits_with_backoff_then_arrives_once(sessions, receiver) -> None:
    await _store(sessions, 3)
    clock = Clock()
    notifier = WebhookNotifier(key="hook", url=receiver.url, timeout_s=5)
    outbox = Outbox(sessions, {"hook": notifier}, source_names={"county-news": "化隆新闻网"},
                    backoff=Backoff(base_s=60, max_s=600), clock=clock)
    receiver.status = 500
    assert await outbox.drain_once() == 0
    async with sessions() as s:
        assert await queries.delivery_counts(s) == {"pending": 3}
        due = await queries.next_delivery_due(s)
    assert T0 + timedelta(seconds=48) <= due <= T0 + timedelta(seconds=72)  # 60 s ± 20 % jitter
    receiver.status = 200
    assert await outbox.drain_once() == 0  # still backing off
    clock.now = T0 + timedelta(seconds=73)
    assert await outbox.drain_once() == 3
    assert await outbox.drain_once() == 0
    assert sorted(receiver.keys()) == sorted({queries.idempotency_key(_item(i).url, "food-safety") for i in range(3)})
    assert {body["source_name"] for _, body in receiver.received} == {"化隆新闻网"}


async def test_two_workers_never_send_the_same_delivery(sessions, receiver) -> None:
    import asyncio

    await _store(sessions, 12)
    notifier = WebhookNotifier(key="hook", url=receiver.url, timeout_s=5)
    workers = [Outbox(sessions, {"hook": notifier}, clock=Clock()) for _ in range(3)]
    sent = await asyncio.gather(*(w.drain_once() for w in workers))
    assert sum(sent) == 12
    assert len(receiver.keys()) == 12 == len(set(receiver.keys()))


async def test_unknown_channel_is_kept_not_dropped(sessions) -> None:
    await _store(sessions, 1)
    outbox = Outbox(sessions, {}, clock=Clock())  # the channel was removed from alerts.yaml
    assert await outbox.drain_once() == 0
    async with sessions() as s:
        assert await queries.delivery_counts(s) == {"pending": 1}
