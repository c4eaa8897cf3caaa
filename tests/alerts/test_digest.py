"""一般舆情汇总 against real databases and a real webhook receiver: 重大 goes at once, a digest
channel's 一般 alerts wait for the digest time and arrive as one message, once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cases import act, seed_people
from loopback import WebhookReceiver, wait_for

from alerts.config import AlertsFile
from alerts.digest import DigestService, fire_times
from alerts.notifiers.message import render_notice_subject, render_notice_text
from alerts.notifiers.webhook import WebhookNotifier
from alerts.outbox import Outbox
from alerts.workflow import Request
from crawler.types import Hit, Item, NoticePayload, TermMatch
from storage import queries

CHINA = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 30, 5, 7, tzinfo=UTC)  # 13:07 in Beijing, inside the 13:00-14:00 window
TIMES = ["14:00", "17:00"]


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=CHINA).astimezone(UTC)


@pytest.mark.parametrize(("now", "last", "following"), [
    (local(30, 15), local(30, 14), local(30, 17)),
    (local(30, 14), local(30, 14), local(30, 17)),  # at the time itself: that one is the last
    (local(30, 18), local(30, 17), local(30, 14) + timedelta(days=1)),
    (local(30, 9), local(29, 17), local(30, 14)),
])
def test_fire_times_in_the_configured_timezone(now: datetime, last: datetime, following: datetime) -> None:
    assert fire_times(TIMES, CHINA, now) == (last, following)


def test_digest_config() -> None:
    alerts = AlertsFile.model_validate({"channels": [
        {"type": "webhook", "name": "duty", "url": "http://127.0.0.1:9/h", "digest": True},
        {"type": "webhook", "name": "leader", "url": "http://127.0.0.1:9/l", "grades": ["重大"]}],
        "digest_at": ["17:00", "9:30", "14:00"]})
    assert alerts.digest_channels() == {"duty"} and alerts.digest_at == ["9:30", "14:00", "17:00"]
    with pytest.raises(ValueError, match="时:分"):
        AlertsFile.model_validate({"digest_at": ["25:00"]})


def item(n: int) -> Item:
    return Item(url=f"http://bbs.example.cn/t/{n}.html", source_id="tieba-hualong", title=f"县二幼收费问题 {n}",
                text=f"第{n}位家长问县二幼的兴趣班收费", fetched_at=T0)


def hit(grade: str) -> Hit:
    return Hit("fees" if grade == "一般" else "food-safety", "损害单位声誉" if grade == "一般" else "安全生产", grade,
               (TermMatch("县二幼", "text", 0, 3),), "【县二幼】收费")


async def test_general_alerts_wait_for_the_digest_and_arrive_as_one_message(sessions) -> None:
    receiver = await WebhookReceiver().start()
    try:
        await seed_people(sessions)
        ids: list[int] = []
        for n, grade in enumerate(["一般", "重大", "一般", "一般"]):
            async with sessions() as s:
                stored = await queries.store_item(s, item(n), [hit(grade)], now=T0 + timedelta(minutes=n),
                                                  channels_for=lambda g: ["duty"])
            assert stored is not None
            ids += stored.alert_ids
        clock = [T0 + timedelta(minutes=10)]
        outbox = Outbox(sessions, {"duty": WebhookNotifier(key="duty", url=receiver.url, timeout_s=5)},
                        clock=lambda: clock[0])
        outbox.digest = frozenset({"duty"})
        assert await outbox.drain_once() == 1  # the 重大 one, at once
        assert [body["alert_id"] for _, body in receiver.received] == [ids[1]]

        # regraded 重大 by the operator, an 一般 alert leaves the digest and goes at once
        await act(sessions, ids[3], "小李", Request("assess"), T0 + timedelta(minutes=11))
        await act(sessions, ids[3], "小李", Request("grade", grade="重大"), T0 + timedelta(minutes=12))
        assert await outbox.drain_once() == 1

        digester = DigestService(sessions, lambda: (frozenset({"duty"}), TIMES, CHINA), lambda: None,
                                 clock=lambda: clock[0])
        clock[0] = local(30, 14, 0) + timedelta(seconds=5)
        assert await digester.fire(local(30, 14)) == {"duty": 2}
        assert await digester.fire(local(30, 14)) == {}  # taken once: a second round finds nothing
        assert await outbox.drain_once() == 1
        notices = [body for _, body in receiver.received if body["type"] != "alert"]
        assert len(notices) == 1 and notices[0]["kind"] == "digest"
        assert notices[0]["message"].startswith("共 2 条一般舆情")
        assert f"告警 {ids[0]}" in notices[0]["message"] and f"告警 {ids[2]}" in notices[0]["message"]
        assert sorted(body["alert_id"] for _, body in receiver.received if body["type"] == "alert") == sorted(
            [ids[1], ids[3]])
        async with sessions() as s:
            assert await queries.delivery_counts(s) == {"sent": 3, "digested": 2}
    finally:
        await receiver.stop()


def test_digest_mail_reads_as_a_list() -> None:
    notice = NoticePayload(notice_id=7, idempotency_key="k", kind="digest", source_id="yuqing", source_name="yuqing",
                           message="共 2 条一般舆情（按发现时间）：\n1. 11-30 13:07 [损害单位声誉] 县二幼收费问题 0",
                           url="", found_at=T0)
    assert render_notice_subject(notice) == "【一般舆情汇总】共 2 条一般舆情（按发现时间）："
    text = render_notice_text(notice)
    assert "县二幼收费问题 0" in text and "重大舆情已即时推送" in text and "地址" not in text


async def test_a_digest_missed_while_the_daemon_was_down_goes_out_at_start(sessions) -> None:
    async with sessions() as s:
        await queries.store_item(s, item(9), [hit("一般")], now=T0, channels_for=lambda g: ["duty"])
    fired: list[bool] = []
    digester = DigestService(sessions, lambda: (frozenset({"duty"}), TIMES, CHINA), lambda: fired.append(True),
                             clock=lambda: local(30, 15, 30))  # the 14:00 digest was due while we were down
    stop = asyncio.Event()
    task = asyncio.create_task(digester.run(stop))
    await wait_for(lambda: fired == [True])
    stop.set()
    await asyncio.wait_for(task, 5)
    async with sessions() as s:
        assert await queries.delivery_counts(s) == {"digested": 1, "pending": 1}  # the digest notice, to send
