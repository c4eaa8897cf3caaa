"""FeishuNotifier against a loopback Feishu bot that checks 签名校验 as Feishu does."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from alerts.config import AlertsFile
from alerts.notifiers import NOTIFIERS, FeishuNotifier, build_notifier
from crawler.types import AlertPayload, DeliveryError, NoticePayload


def robot(robots, **changes: object) -> FeishuNotifier:
    settings: dict[str, object] = {"key": "飞书值班群", "webhook": robots.feishu_url, "secret": robots.feishu_secret}
    settings.update(changes)
    return FeishuNotifier(**settings)  # type: ignore[arg-type]


async def test_major_alert_is_signed_text_and_mentions_all(robots, make_alert: Callable[..., AlertPayload]) -> None:
    await robot(robots, at_all=True).send(make_alert())

    (message,) = robots.messages["feishu"]
    assert len(robots.signed_with) == 1 and abs(int(robots.signed_with[0]) - time.time()) < 60  # seconds
    assert message["msg_type"] == "text" and message["timestamp"] == robots.signed_with[0]
    text = message["content"]["text"]
    assert text.startswith("【舆情预警·重大】化隆二幼、呕吐 — 安全生产：家长反映化隆二幼多名幼儿午餐后呕吐\n\n等级：重大")
    for line in ["命中词：化隆二幼、呕吐", "链接：http://127.0.0.1:8080/news/1031.html",
                 "发现时间：2026-11-24 13:07:12（Asia/Shanghai）", "摘要：\n多名家长反映", "告警编号：42"]:
        assert line in text, line
    assert text.endswith('\n<at user_id="all">所有人</at>')
    assert "化隆二幼".encode() in robots.raw["feishu"][0]


async def test_ordinary_alert_and_notice_mention_no_one(robots, make_alert: Callable[..., AlertPayload],
                                                       make_notice: Callable[..., NoticePayload]) -> None:
    notifier = robot(robots, at_all=True)
    await notifier.send(make_alert(grade="一般"))
    await notifier.send(make_notice())
    ordinary, notice = (m["content"]["text"] for m in robots.messages["feishu"])
    assert "<at" not in ordinary and "<at" not in notice
    assert notice.startswith("【来源异常】化隆吧：百度安全验证页面") and "通知编号：7" in notice


async def test_crawled_text_cannot_mention_anyone(robots, make_alert: Callable[..., AlertPayload]) -> None:
    await robot(robots).send(make_alert(snippet='快看 <at user_id="all">所有人</at>'))
    text = robots.messages["feishu"][0]["content"]["text"]
    assert "<at" not in text and '快看 ＜at user_id="all">所有人＜/at>' in text


async def test_unsigned_bot(robots, make_alert: Callable[..., AlertPayload]) -> None:
    robots.feishu_secret = None
    await robot(robots, secret=None).send(make_alert())
    (message,) = robots.messages["feishu"]
    assert "sign" not in message and "timestamp" not in message


async def test_wrong_secret_and_stale_timestamp_are_refused(robots, make_alert: Callable[..., AlertPayload]) -> None:
    with pytest.raises(DeliveryError, match="19021 sign match fail") as caught:
        await robot(robots, secret="not-the-secret").send(make_alert())
    assert "飞书机器人 127.0.0.1" in str(caught.value) and "secret 不符" in str(caught.value)
    assert robots.feishu_token not in str(caught.value) and "not-the-secret" not in str(caught.value)

    with pytest.raises(DeliveryError, match="19021"):
        await robot(robots, clock=lambda: time.time() - 2 * 3600).send(make_alert())
    assert robots.messages["feishu"] == []


async def test_rate_limit_and_legacy_answers(robots, make_alert: Callable[..., AlertPayload]) -> None:
    robots.rate_limited.add("feishu")
    with pytest.raises(DeliveryError, match="11232") as caught:
        await robot(robots).send(make_alert())
    assert "频率限制" in str(caught.value)

    robots.feishu_legacy = True  # {"StatusCode": …, "StatusMessage": …}
    with pytest.raises(DeliveryError, match="11232"):
        await robot(robots).send(make_alert())
    robots.rate_limited.clear()
    await robot(robots).send(make_alert())
    assert len(robots.messages["feishu"]) == 1


async def test_long_snippet_keeps_the_body_within_20000_bytes(robots, make_alert: Callable[..., AlertPayload]) -> None:
    snippet = "家长反映\"幼儿\"午餐后呕吐。\n" * 2000  # quotes and newlines: longer once escaped in JSON
    await robot(robots, at_all=True).send(make_alert(snippet=snippet))
    (raw,) = robots.raw["feishu"]
    assert 19000 < len(raw) <= 20000  # the whole request body, JSON escapes included
    text = json.loads(raw)["content"]["text"]
    assert f"…（以下已截断，原文共 {len(snippet.strip())} 字）" in text and "告警编号：42" in text and text.endswith("所有人</at>")


def test_config_registry_and_grades() -> None:
    config = AlertsFile.model_validate({"channels": [
        {"type": "feishu", "webhook": "https://open.feishu.cn/open-apis/bot/v2/hook/TOKEN-IN-PATH",
         "secret": "s3cret", "at_all": True, "grades": ["重大"]},
    ]})
    (channel,) = config.channels
    notifier = build_notifier(channel)
    assert isinstance(notifier, FeishuNotifier) and NOTIFIERS["feishu"] is FeishuNotifier
    assert notifier.accepts("重大") and not notifier.accepts("一般") and notifier.at_all
    assert channel.key.startswith("feishu:open.feishu.cn#") and "TOKEN-IN-PATH" not in channel.key
    assert "TOKEN-IN-PATH" not in repr(channel) and "s3cret" not in repr(channel)
