"""WebhookNotifier against a real aiohttp receiver on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable

import aiohttp
import pytest
from pydantic import SecretStr

from alerts.config import AlertsFile
from alerts.notifiers import NOTIFIERS, WebhookNotifier, build_notifier
from crawler.types import AlertPayload, DeliveryError


async def test_posts_the_alert_as_signed_utf8_json(receiver, make_alert: Callable[..., AlertPayload]) -> None:
    alert = make_alert()
    hook = WebhookNotifier(key="值班系统", url=f"{receiver.base}/ok", secret=SecretStr("k3y"),
                           headers={"Authorization": SecretStr("Bearer t0ken")})
    await hook.send(alert)

    (request,) = receiver.requests
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.headers["Idempotency-Key"] == alert.idempotency_key
    assert request.headers["Authorization"] == "Bearer t0ken"
    assert "化隆二幼".encode() in request.body  # ensure_ascii=False: readable UTF-8, not \\u escapes
    expected = "sha256=" + hmac.new(b"k3y", request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-Yuqing-Signature"], expected)

    document = json.loads(request.body.decode("utf-8"))
    assert document["alert_id"] == 42
    assert document["idempotency_key"] == alert.idempotency_key
    assert document["grade"] == "重大" and document["category"] == "安全生产" and document["rule_id"] == "food-safety"
    assert document["matched_terms"] == ["化隆二幼", "呕吐"]
    assert document["snippet"] == alert.snippet and document["url"] == alert.url and document["title"] == alert.title
    assert document["source_id"] == "demo-news" and document["source_name"] == "化隆县新闻网"
    assert document["found_at"] == "2026-11-24T05:07:12+00:00"
    assert document["published_at"] == "2026-11-24T04:42:00+00:00"
    assert document["author"] is None
    assert document["subject"].startswith("【舆情预警·重大】")
    assert "发现时间：2026-11-24 13:07:12" in document["text"]


async def test_no_secret_no_signature_and_any_2xx_is_success(receiver, make_alert: Callable[..., AlertPayload]) -> None:
    await WebhookNotifier(key="w", url=f"{receiver.base}/accepted").send(make_alert(published_at=None))
    (request,) = receiver.requests
    assert "X-Yuqing-Signature" not in request.headers
    assert json.loads(request.body)["published_at"] is None


@pytest.mark.parametrize(("path", "reason"), [("/fail", "HTTP 500"), ("/moved", "HTTP 302"), ("/missing", "HTTP 404")])
async def test_non_2xx_is_a_delivery_error(receiver, make_alert: Callable[..., AlertPayload], path: str, reason: str) -> None:
    with pytest.raises(DeliveryError, match=reason) as caught:
        await WebhookNotifier(key="w", url=receiver.base + path).send(make_alert())
    assert "\n" not in str(caught.value)
    if path == "/fail":
        assert "数据库不可用 请稍后重试" in str(caught.value)
    assert len(receiver.requests) == (0 if path == "/missing" else 1)  # the redirect was not followed


async def test_connection_refused_and_timeout(closed_port: int, silent_port: int,
                                              make_alert: Callable[..., AlertPayload]) -> None:
    with pytest.raises(DeliveryError, match="无法连接 webhook 127.0.0.1"):
        await WebhookNotifier(key="w", url=f"http://127.0.0.1:{closed_port}/hook?access_token=T0KEN").send(make_alert())
    with pytest.raises(DeliveryError, match="超时") as caught:
        await WebhookNotifier(key="w", url=f"http://127.0.0.1:{silent_port}/hook?access_token=T0KEN",
                              timeout_s=0.3).send(make_alert())
    assert "T0KEN" not in str(caught.value)


async def test_uses_an_injected_session(receiver, make_alert: Callable[..., AlertPayload]) -> None:
    async with aiohttp.ClientSession(headers={"X-From-Session": "yes"}) as session:
        await WebhookNotifier(key="w", url=f"{receiver.base}/ok", session=session).send(make_alert())
        assert not session.closed
    assert receiver.requests[0].headers["X-From-Session"] == "yes"


def test_grades_filter_and_registry() -> None:
    config = AlertsFile.model_validate({"channels": [
        {"type": "webhook", "name": "值班系统", "url": "http://127.0.0.1:9/h", "grades": ["一般"], "secret": "s"},
        {"type": "webhook", "url": "http://127.0.0.1:9/all"},
    ]})
    only_ordinary, every_grade = (build_notifier(c) for c in config.channels)
    assert isinstance(only_ordinary, WebhookNotifier) and NOTIFIERS["webhook"] is WebhookNotifier
    assert only_ordinary.accepts("一般") and not only_ordinary.accepts("重大")
    assert every_grade.accepts("一般") and every_grade.accepts("重大")
    assert every_grade.key == "webhook:http://127.0.0.1:9/all" and every_grade.timeout_s == 10.0
