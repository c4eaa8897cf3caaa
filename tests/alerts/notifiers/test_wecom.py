"""WeComNotifier against a loopback 企业微信 group robot that checks the key and the size limits."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import ValidationError

from alerts.config import AlertsFile
from alerts.notifiers import NOTIFIERS, WeComNotifier, build_notifier
from alerts.notifiers.robot import CUT
from crawler.types import AlertPayload, DeliveryError, NoticePayload


def robot(robots, **changes: object) -> WeComNotifier:
    settings: dict[str, object] = {"key": "企业微信值班群", "webhook": robots.wecom_url}
    settings.update(changes)
    return WeComNotifier(**settings)  # type: ignore[arg-type]


async def test_alert_is_markdown(robots, make_alert: Callable[..., AlertPayload]) -> None:
    await robot(robots).send(make_alert())
    (message,) = robots.messages["wecom"]
    assert message["msgtype"] == "markdown"
    content = message["markdown"]["content"]
    assert content.startswith("#### 【舆情预警·重大】化隆二幼、呕吐 — 安全生产：家长反映化隆二幼多名幼儿午餐后呕吐\n")
    for line in ["\n**等级**：重大（处置时限：2 小时内报告领导", "\n**类别**：安全生产\n**规则**：food-safety\n",
                 "**链接**：[查看原文](http://127.0.0.1:8080/news/1031.html)（127.0.0.1）",
                 "**摘要**：\n> 多名家长反映", "告警编号：42"]:
        assert line in content, line
    assert len(content.encode()) <= 4096


async def test_major_alert_with_mentions_goes_as_text(robots, make_alert: Callable[..., AlertPayload]) -> None:
    notifier = robot(robots, mentioned_mobile_list=["13800000000", "@all"])
    await notifier.send(make_alert())
    await notifier.send(make_alert(grade="一般"))

    major, ordinary = robots.messages["wecom"]
    assert major["msgtype"] == "text"  # WeCom's markdown cannot @ by phone number
    assert major["text"]["mentioned_mobile_list"] == ["13800000000", "@all"]
    assert major["text"]["content"].startswith("【舆情预警·重大】") and "链接：http://127.0.0.1:8080/news/1031.html" in \
        major["text"]["content"]
    assert ordinary["msgtype"] == "markdown" and "mentioned_mobile_list" not in ordinary["markdown"]


async def test_notice_renders(robots, make_notice: Callable[..., NoticePayload]) -> None:
    await robot(robots, mentioned_mobile_list=["13800000000"]).send(make_notice(kind="source_up", message="恢复正常"))
    (message,) = robots.messages["wecom"]
    assert message["msgtype"] == "markdown"  # notices are 一般: no one is mentioned
    content = message["markdown"]["content"]
    assert content.startswith("#### 【来源恢复】化隆吧：恢复正常") and "该来源已恢复正常巡查。" in content


async def test_long_snippets_fit_4096_and_2048_bytes(robots, make_alert: Callable[..., AlertPayload]) -> None:
    long = make_alert(snippet="多名家长反映幼儿午餐后呕吐、腹痛。" * 500)
    await robot(robots).send(long)
    await robot(robots, mentioned_mobile_list=["13800000000"]).send(long)
    markdown, text = robots.messages["wecom"]
    assert 3900 < len(markdown["markdown"]["content"].encode()) <= 4096
    assert 1900 < len(text["text"]["content"].encode()) <= 2048
    for content in (markdown["markdown"]["content"], text["text"]["content"]):
        assert "…（以下已截断，原文共 8500 字）" in content and "告警编号：42" in content


async def test_enormous_title_cuts_the_message_itself(robots, make_alert: Callable[..., AlertPayload]) -> None:
    await robot(robots).send(make_alert(title="标题过长" * 2000))  # no snippet length would help
    content = robots.messages["wecom"][0]["markdown"]["content"]
    assert len(content.encode()) <= 4096 and content.endswith(CUT)


async def test_wrong_key_and_rate_limit_are_delivery_errors(robots, make_alert: Callable[..., AlertPayload]) -> None:
    wrong = f"{robots.base}/cgi-bin/webhook/send?key=00000000-dead-beef-0000-000000000000"
    with pytest.raises(DeliveryError, match="93000") as caught:
        await robot(robots, webhook=wrong).send(make_alert())
    assert "企业微信机器人 127.0.0.1" in str(caught.value) and "key 不对" in str(caught.value)
    assert "dead-beef" not in str(caught.value)

    robots.rate_limited.add("wecom")
    with pytest.raises(DeliveryError, match="45009 api freq out of limit") as caught:
        await robot(robots).send(make_alert())
    assert robots.wecom_key not in str(caught.value)
    assert robots.messages["wecom"] == []


def test_config_registry_and_grades() -> None:
    config = AlertsFile.model_validate({"channels": [
        {"type": "wecom", "webhook": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY-ONE",
         "grades": ["一般"], "mentioned_mobile_list": ["@all"]},
        {"type": "wecom", "webhook": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY-TWO"},
    ]})
    ordinary, every = (build_notifier(c) for c in config.channels)
    assert isinstance(ordinary, WeComNotifier) and NOTIFIERS["wecom"] is WeComNotifier
    assert ordinary.accepts("一般") and not ordinary.accepts("重大") and every.accepts("重大")
    assert ordinary.key.startswith("wecom:qyapi.weixin.qq.com#") and ordinary.key != every.key
    assert "KEY-ONE" not in ordinary.key and "KEY-ONE" not in repr(config)
    with pytest.raises(ValidationError, match="不是手机号"):
        AlertsFile.model_validate({"channels": [{"type": "wecom", "webhook": "https://q/send?key=K",
                                                 "mentioned_mobile_list": ["all"]}]})
    with pytest.raises(ValidationError, match="Extra"):  # WeCom robots are not signed
        AlertsFile.model_validate({"channels": [{"type": "wecom", "webhook": "https://q/send?key=K", "secret": "s"}]})
