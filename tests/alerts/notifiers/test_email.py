"""EmailNotifier against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import time
from collections.abc import Callable
from email.message import EmailMessage

import pytest
from pydantic import SecretStr

from alerts.config import AlertsFile
from alerts.notifiers import NOTIFIERS, EmailNotifier, build_notifier
from crawler.types import AlertPayload, DeliveryError


def notifier(port: int, **options: object) -> EmailNotifier:
    values: dict[str, object] = dict(key="保教处邮箱", smtp_host="127.0.0.1", smtp_port=port,
                                     sender="舆情监测 <yuqing@localhost>", to=["leader@localhost", "operator@localhost"],
                                     timeout_s=5.0)
    values.update(options)
    return EmailNotifier(**values)  # type: ignore[arg-type]


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


async def test_delivers_readable_chinese_mail(mailbox, make_alert: Callable[..., AlertPayload]) -> None:
    alert = make_alert()
    await notifier(mailbox.port).send(alert)

    (envelope,) = mailbox.envelopes
    assert envelope.mail_from == "yuqing@localhost"
    assert envelope.rcpt_tos == ["leader@localhost", "operator@localhost"]
    raw = envelope.original_content
    assert raw.isascii()  # encoded for any relay: RFC 2047 headers, base64 body
    message = parse(raw)
    assert message["Subject"] == "【舆情预警·重大】化隆二幼、呕吐 — 安全生产：家长反映化隆二幼多名幼儿午餐后呕吐"
    assert message["From"].addresses[0].display_name == "舆情监测"
    assert message["Message-ID"] == "<yuqing-3f2a9c0d5e6b7a8f@yuqing.local>"
    assert message["X-Yuqing-Idempotency-Key"] == "3f2a9c0d5e6b7a8f"
    assert message["Importance"] == "high"
    body = message.get_content()
    assert alert.snippet in body
    assert f"链接：{alert.url}" in body
    assert "发现时间：2026-11-24 13:07:12（Asia/Shanghai）" in body


async def test_resend_has_the_same_message_id(mailbox, make_alert: Callable[..., AlertPayload]) -> None:
    sender = notifier(mailbox.port)
    await sender.send(make_alert())
    await sender.send(make_alert())
    first, second = (parse(e.original_content) for e in mailbox.envelopes)
    assert first["Message-ID"] == second["Message-ID"]
    other = sender.build_message(make_alert(alert_id=43, idempotency_key="other/key 1"))
    assert other["Message-ID"] == "<yuqing-other-key-1@yuqing.local>"


async def test_title_with_newlines_still_makes_a_valid_subject(make_alert: Callable[..., AlertPayload]) -> None:
    message = notifier(25).build_message(make_alert(title="标题\r\n第二行\t第三行", grade="一般"))
    assert message["Subject"].endswith("安全生产：标题 第二行 第三行")
    assert message["Importance"] is None


async def test_server_down_fails_fast(closed_port: int, make_alert: Callable[..., AlertPayload]) -> None:
    started = time.monotonic()
    with pytest.raises(DeliveryError, match="无法连接 SMTP 服务器"):
        await notifier(closed_port).send(make_alert())
    assert time.monotonic() - started < 2


async def test_silent_server_times_out(silent_port: int, make_alert: Callable[..., AlertPayload]) -> None:
    with pytest.raises(DeliveryError, match="超时"):
        await notifier(silent_port, timeout_s=0.3).send(make_alert())


async def test_all_recipients_refused_is_a_delivery_error(mailbox, make_alert: Callable[..., AlertPayload]) -> None:
    mailbox.refused = dict.fromkeys(["leader@localhost", "operator@localhost"], "550 5.1.1 mailbox unavailable")
    with pytest.raises(DeliveryError, match="拒收全部收件人.*550"):
        await notifier(mailbox.port).send(make_alert())
    assert mailbox.envelopes == []


async def test_one_refused_recipient_does_not_resend_to_the_others(
        mailbox, make_alert: Callable[..., AlertPayload], caplog: pytest.LogCaptureFixture) -> None:
    mailbox.refused = {"leader@localhost": "550 5.1.1 mailbox unavailable"}
    await notifier(mailbox.port).send(make_alert())  # no DeliveryError: a retry would duplicate for operator@
    assert mailbox.envelopes[0].rcpt_tos == ["operator@localhost"]
    assert "leader@localhost 550" in caplog.text


async def test_failed_login_never_shows_the_password(mailbox, make_alert: Callable[..., AlertPayload]) -> None:
    password = "s3cret-口令"
    sender = notifier(mailbox.port, username="yuqing", password=SecretStr(password))
    with pytest.raises(DeliveryError) as caught:
        await sender.send(make_alert())
    assert "登录失败" in str(caught.value)
    assert password not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_grades_filter_and_registry() -> None:
    config = AlertsFile.model_validate({"channels": [
        {"type": "email", "name": "领导", "smtp_host": "127.0.0.1", "sender": "a@localhost",
         "to": ["b@localhost"], "grades": ["重大"], "password": "pw", "username": "u"},
    ]})
    built = build_notifier(config.channels[0], "Asia/Shanghai")
    assert isinstance(built, EmailNotifier) and NOTIFIERS["email"] is EmailNotifier
    assert built.key == "领导" and built.timeout_s == 30.0
    assert built.accepts("重大") and not built.accepts("一般")
    assert "pw" not in repr(vars(built))
