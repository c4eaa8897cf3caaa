"""DingTalkNotifier against a loopback robot that checks 加签 as DingTalk does."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from pydantic import ValidationError

from alerts.config import AlertsFile
from alerts.notifiers import NOTIFIERS, DingTalkNotifier, build_notifier
from alerts.notifiers.robot import hmac_sha256_base64
from crawler.types import AlertPayload, DeliveryError, NoticePayload


def robot(robots, **changes: object) -> DingTalkNotifier:
    settings: dict[str, object] = {"key": "值班群", "webhook": robots.dingtalk_url, "secret": robots.dingtalk_secret}
    settings.update(changes)
    return DingTalkNotifier(**settings)  # type: ignore[arg-type]


def assert_no_secrets(error: DeliveryError, robots) -> None:
    text = str(error)
    assert robots.dingtalk_token not in text and "access_token" not in text
    assert robots.dingtalk_secret is None or robots.dingtalk_secret not in text


async def test_major_alert_is_signed_markdown_and_mentions(robots, make_alert: Callable[..., AlertPayload]) -> None:
    await robot(robots, at_mobiles=["13800000000"], at_all=True).send(make_alert())

    (message,) = robots.messages["dingtalk"]
    assert len(robots.signed_with) == 1  # the receiver recomputed the signature and it matched
    assert abs(int(robots.signed_with[0]) - time.time() * 1000) < 60_000  # milliseconds
    assert message["msgtype"] == "markdown"
    markdown = message["markdown"]
    assert markdown["title"] == "【舆情预警·重大】化隆二幼、呕吐 — 安全生产：家长反映化隆二幼多名幼儿午餐后呕吐"
    for line in ["#### 【舆情预警·重大】", "**等级**：重大（处置时限：2 小时内报告领导", "**命中词**：化隆二幼、呕吐",
                 "**来源**：化隆县新闻网（demo-news）", "[查看原文](http://127.0.0.1:8080/news/1031.html)",
                 "**发现时间**：2026-11-24 13:07:12（Asia/Shanghai）", "> 多名家长反映，化隆二幼大班",
                 "告警编号：42", "@13800000000"]:
        assert line in markdown["text"], line
    assert "\n\n**类别**" in markdown["text"]  # one paragraph a line: DingTalk may join single newlines
    assert message["at"] == {"atMobiles": ["13800000000"], "isAtAll": True}
    assert "化隆二幼".encode() in robots.raw["dingtalk"][0]  # readable UTF-8 JSON


async def test_ordinary_alerts_and_notices_mention_no_one(robots, make_alert: Callable[..., AlertPayload],
                                                        make_notice: Callable[..., NoticePayload]) -> None:
    notifier = robot(robots, at_mobiles=["13800000000"], at_all=True)
    await notifier.send(make_alert(grade="一般"))
    await notifier.send(make_notice())

    ordinary, notice = robots.messages["dingtalk"]
    assert "at" not in ordinary and "@13800000000" not in ordinary["markdown"]["text"]
    assert "24 小时内交办" in ordinary["markdown"]["text"]
    assert "at" not in notice
    assert notice["markdown"]["title"] == "【来源异常】化隆吧：百度安全验证页面：巡查未取得任何帖子"
    for line in ["**来源**：化隆吧（hualong-tieba）", "[查看原文](https://tieba.baidu.com/f?kw=化隆)（tieba.baidu.com）",
                 "**时间**：2026-11-24 13:30:00（Asia/Shanghai）", "请检查网站是否改版", "通知编号：7"]:
        assert line in notice["markdown"]["text"], line


async def test_unsigned_robot_gets_no_timestamp_or_sign(robots, make_alert: Callable[..., AlertPayload]) -> None:
    robots.dingtalk_secret = None  # 安全设置 is 自定义关键词 or an IP list instead
    await robot(robots, secret=None).send(make_alert())
    assert len(robots.messages["dingtalk"]) == 1 and robots.signed_with == []


async def test_wrong_secret_is_refused_with_dingtalks_code(robots, make_alert: Callable[..., AlertPayload]) -> None:
    with pytest.raises(DeliveryError, match="310000") as caught:
        await robot(robots, secret="SECwrongwrongwrong").send(make_alert())
    assert "钉钉机器人 127.0.0.1" in str(caught.value) and "加签 secret 不符" in str(caught.value)
    assert "SECwrongwrongwrong" not in str(caught.value)
    assert_no_secrets(caught.value, robots)
    assert robots.messages["dingtalk"] == []

    with pytest.raises(DeliveryError, match="310000"):  # the robot wants 加签 and gets none
        await robot(robots, secret=None).send(make_alert())


async def test_timestamp_over_an_hour_old_is_refused(robots, make_alert: Callable[..., AlertPayload]) -> None:
    with pytest.raises(DeliveryError, match="310000 invalid timestamp"):
        await robot(robots, clock=lambda: time.time() - 2 * 3600).send(make_alert())
    await robot(robots, clock=lambda: time.time() - 50 * 60).send(make_alert())  # within the hour: fine
    assert len(robots.messages["dingtalk"]) == 1


async def test_rate_limit_is_a_delivery_error(robots, make_alert: Callable[..., AlertPayload]) -> None:
    robots.rate_limited.add("dingtalk")
    with pytest.raises(DeliveryError, match="130101") as caught:
        await robot(robots).send(make_alert())
    assert "每分钟最多 20 条" in str(caught.value)
    assert_no_secrets(caught.value, robots)


async def test_long_snippet_is_cut_to_fit_20000_bytes(robots, make_alert: Callable[..., AlertPayload]) -> None:
    await robot(robots).send(make_alert(snippet="家长反映幼儿午餐后呕吐。" * 3000))  # ~108 KB of UTF-8
    (message,) = robots.messages["dingtalk"]
    text = message["markdown"]["text"]
    assert 19000 < len(text.encode()) <= 20000  # as much as fits, no more
    assert "…（以下已截断，原文共 36000 字）" in text
    assert "告警编号：42" in text and "**链接**" in text  # the facts are never cut


async def test_crawled_markdown_is_shown_not_obeyed(robots, make_alert: Callable[..., AlertPayload]) -> None:
    await robot(robots).send(make_alert(title="[点此领取](http://evil.example/) <font color=red>**急**</font>",
                                        snippet="# 标题\n> 引用 `代码`"))
    text = robots.messages["dingtalk"][0]["markdown"]["text"]
    assert "evil.example" in text and "](http://evil" not in text and "<font" not in text and "**急**" not in text
    assert "［点此领取］（http://evil.example/） ＜font color=red＞＊＊急＊＊＜/font＞" in text
    assert "> ＃ 标题 ＞ 引用 ｀代码｀" in text


async def test_http_errors_and_transport_failures_name_only_the_host(
        robots, closed_port: int, silent_port: int, make_alert: Callable[..., AlertPayload]) -> None:
    with pytest.raises(DeliveryError, match="HTTP 404"):
        await robot(robots, webhook=f"{robots.base}/robot/gone?access_token={robots.dingtalk_token}").send(make_alert())
    with pytest.raises(DeliveryError, match=f"无法连接钉钉机器人 127.0.0.1:{closed_port}") as refused:
        await robot(robots, webhook=f"http://127.0.0.1:{closed_port}/robot/send?access_token=T0KENT0KEN").send(
            make_alert())
    with pytest.raises(DeliveryError, match="超时") as hung:
        await robot(robots, webhook=f"http://127.0.0.1:{silent_port}/robot/send?access_token=T0KENT0KEN",
                    timeout_s=0.3).send(make_alert())
    for caught in (refused, hung):
        assert "T0KENT0KEN" not in str(caught.value) and robots.dingtalk_secret not in str(caught.value)


def test_config_registry_grades_and_secrecy() -> None:
    config = AlertsFile.model_validate({"channels": [
        {"type": "dingtalk", "name": "值班群", "webhook": "https://oapi.dingtalk.com/robot/send?access_token=AAAA1111",
         "secret": "SECbbbb2222", "at_mobiles": ["13800000000", "+86-13900000000"], "at_all": False,
         "grades": ["重大"], "timeout_s": 5},
        {"type": "dingtalk", "webhook": "https://oapi.dingtalk.com/robot/send?access_token=CCCC3333"},
        {"type": "dingtalk", "webhook": "https://oapi.dingtalk.com/robot/send?access_token=DDDD4444"},
    ]})
    named, first, second = config.channels
    assert "AAAA1111" not in repr(named) and "SECbbbb2222" not in repr(named)
    major_only = build_notifier(named)
    assert isinstance(major_only, DingTalkNotifier) and NOTIFIERS["dingtalk"] is DingTalkNotifier
    assert major_only.key == "值班群" and major_only.timeout_s == 5
    assert major_only.accepts("重大") and not major_only.accepts("一般")
    assert major_only.at_mobiles == ("13800000000", "+86-13900000000")
    assert "AAAA1111" not in repr(vars(major_only)) and "SECbbbb2222" not in repr(vars(major_only))
    # robots differ only by token: derived keys are distinct and stable, and do not contain it
    assert first.key.startswith("dingtalk:oapi.dingtalk.com#") and first.key != second.key
    assert "CCCC3333" not in first.key
    assert first.key == AlertsFile.model_validate({"channels": [
        {"type": "dingtalk", "webhook": "https://oapi.dingtalk.com/robot/send?access_token=CCCC3333"}]}).channels[0].key
    assert build_notifier(first).accepts("一般") and build_notifier(first).timeout_s == 10.0


@pytest.mark.parametrize(("channel", "field", "message"), [
    ({"webhook": "oapi.dingtalk.com/robot/send?access_token=S3CRET"}, "webhook", "http(s)"),
    ({"webhook": "https://oapi.dingtalk.com/robot/send?access_token=S3CRET", "secret": ""}, "secret", "secret 为空"),
    ({"webhook": "https://oapi.dingtalk.com/robot/send?access_token=S3CRET", "at_mobiles": ["张三"]}, "at_mobiles", "不是手机号"),
    ({"webhook": "https://oapi.dingtalk.com/robot/send?access_token=S3CRET", "atMobiles": ["1"]}, "atMobiles", "Extra"),
    ({}, "webhook", "required"),
])
def test_config_mistakes(channel: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        AlertsFile.model_validate({"channels": [{"type": "dingtalk", **channel}]})
    (error,) = caught.value.errors()
    assert field in error["loc"] and message in error["msg"]
    assert "S3CRET" not in str(caught.value)  # pydantic's text would quote the rejected value


async def test_signature_with_url_special_characters_survives_the_query(
        robots, make_alert: Callable[..., AlertPayload]) -> None:
    # a timestamp whose signature has "+", "/" and "=": each must reach DingTalk url-encoded, unchanged
    secret = robots.dingtalk_secret
    start = int(time.time() * 1000)
    moment = next(ms for ms in range(start, start + 100_000)
                  if {"+", "/"} <= set(hmac_sha256_base64(secret, f"{ms}\n{secret}")))
    await robot(robots, clock=lambda: (moment + 0.5) / 1000).send(make_alert())
    assert robots.signed_with == [str(moment)]


async def test_an_answer_that_is_not_dingtalks_is_a_failure(receiver, make_alert: Callable[..., AlertPayload]) -> None:
    # HTTP 200 from something that is not the robot (a captive portal, a proxy page): not delivered
    with pytest.raises(DeliveryError, match="应答不是 JSON"):
        await DingTalkNotifier(key="d", webhook=f"{receiver.base}/ok?access_token=T0KENT0KEN").send(make_alert())
    with pytest.raises(DeliveryError, match="HTTP 302"):  # DingTalk's answer once rate-limited: not followed
        await DingTalkNotifier(key="d", webhook=f"{receiver.base}/moved?access_token=T0KENT0KEN").send(make_alert())
    assert [r.path for r in receiver.requests] == ["/ok", "/moved"]
