"""alerts.yaml models: typos rejected, secrets hidden, channel keys stable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from alerts.config import AlertsFile

EMAIL: dict[str, Any] = {"type": "email", "smtp_host": "smtp.example.cn", "sender": "yuqing@example.cn",
                         "to": ["baojiaochu@example.cn"]}
WEBHOOK: dict[str, Any] = {"type": "webhook", "url": "https://duty.example.cn/hook?token=T0KEN"}


def load(*channels: dict[str, Any]) -> AlertsFile:
    return AlertsFile.model_validate({"channels": list(channels)})


def errors(*channels: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        load(*channels)
    return [(e["loc"], e["msg"]) for e in caught.value.errors()]


def test_the_shipped_example_is_valid() -> None:
    shipped = Path(__file__).resolve().parents[2] / "alerts.yaml"
    config = AlertsFile.model_validate(yaml.safe_load(shipped.read_text(encoding="utf-8")))
    assert [c.type for c in config.channels] == ["email", "webhook"]
    assert AlertsFile().channels == []


def test_defaults() -> None:
    email, webhook = load(EMAIL, WEBHOOK).channels
    assert (email.smtp_port, email.starttls, email.use_tls, email.timeout_s, email.grades) == (25, False, False, 30.0, None)
    assert (webhook.timeout_s, webhook.headers, webhook.secret) == (10.0, None, None)


@pytest.mark.parametrize(("channel", "loc", "message"), [
    ({**EMAIL, "smtp_hots": "x"}, ("channels", 0, "email", "smtp_hots"), "Extra inputs"),
    ({**EMAIL, "to": []}, ("channels", 0, "email", "to"), "at least 1"),
    ({**EMAIL, "to": ["不是地址"]}, ("channels", 0, "email", "to", 0), "不是有效的邮箱地址"),
    ({**EMAIL, "grades": ["紧急"]}, ("channels", 0, "email", "grades", 0), "一般"),
    ({**EMAIL, "grades": []}, ("channels", 0, "email", "grades"), "at least 1"),
    ({**EMAIL, "starttls": True, "use_tls": True}, ("channels", 0, "email"), "只能选一个"),
    ({**EMAIL, "password": "pw"}, ("channels", 0, "email"), "同时填写"),
    ({**WEBHOOK, "url": "ftp://x/"}, ("channels", 0, "webhook", "url"), "http"),
    ({**WEBHOOK, "headers": {"X-A": "a\r\nX-B: b"}}, ("channels", 0, "webhook", "headers"), "换行"),
    ({"type": "sms"}, ("channels", 0), "未知或缺少渠道类型"),
    ({"name": "无类型"}, ("channels", 0), "未知或缺少渠道类型"),
])
def test_mistakes_are_errors(channel: dict[str, Any], loc: tuple[str | int, ...], message: str) -> None:
    [(got_loc, got_message)] = errors(channel)
    assert got_loc == loc and message in got_message


def test_secrets_never_printed() -> None:
    config = load({**EMAIL, "username": "u", "password": "p@ssw0rd"},
                  {**WEBHOOK, "secret": "hmac-key", "headers": {"Authorization": "Bearer abc"}})
    email, webhook = config.channels
    for shown in (repr(config), str(config), config.model_dump_json()):
        assert "p@ssw0rd" not in shown and "hmac-key" not in shown and "Bearer abc" not in shown
    assert email.password is not None and email.password.get_secret_value() == "p@ssw0rd"
    assert webhook.headers is not None and webhook.headers["Authorization"].get_secret_value() == "Bearer abc"


def test_key_is_the_name_or_the_destination_never_the_position() -> None:
    named = {**EMAIL, "name": "保教处邮箱"}
    other = {**EMAIL, "to": ["张三 <leader@example.cn>", "b@example.cn"]}
    first = load(named, other, WEBHOOK)
    reordered = load(WEBHOOK, {**EMAIL, "name": "新渠道"}, other, named)
    assert [c.key for c in first.channels] == ["保教处邮箱", "email:b@example.cn,leader@example.cn",
                                               "webhook:https://duty.example.cn/hook"]
    assert {c.key for c in first.channels} < {c.key for c in reordered.channels}
    assert "T0KEN" not in first.channels[2].key
    long = load({**EMAIL, "to": [f"user{i}@example.cn" for i in range(20)]}).channels[0].key
    assert len(long) <= 100


def test_duplicate_keys_are_an_error() -> None:
    [(loc, message)] = errors({**EMAIL, "name": "甲"}, {**WEBHOOK, "name": "甲"})
    assert loc == ("channels",) and "channels[1]" in message and "channels[0]" in message
    assert errors(EMAIL, {**EMAIL, "smtp_port": 587})  # same recipients, no names: which is which?


def test_grades_filter() -> None:
    every, major = load(EMAIL, {**WEBHOOK, "grades": ["重大"]}).channels
    assert every.accepts("一般") and every.accepts("重大")
    assert major.accepts("重大") and not major.accepts("一般")
