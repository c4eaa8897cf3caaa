"""Webhook channel: POST the alert as UTF-8 JSON to an operator-configured URL (aiohttp).

Settings read (``type: webhook`` in alerts.yaml): url, headers, secret, grades, timeout_s.

The body holds every AlertPayload field (datetimes in ISO 8601, UTC) plus ``subject`` and ``text``,
the same Chinese rendering the email uses, so a receiver can show it as is. Headers:
``Idempotency-Key`` (stable per alert: the receiver drops resends) and, with a ``secret``,
``X-Yuqing-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>``. Any 2xx is success;
redirects are not followed (a POST that is redirected is a misconfigured URL). The targets are the
operator's own systems, often on the intranet, so there is no private-network guard here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pydantic import SecretStr

from alerts.config import WebhookChannel
from alerts.notifiers.message import DEFAULT_TIMEZONE, one_line, subject_of, text_of
from crawler.types import DeliveryError, NoticePayload, Payload

SIGNATURE_HEADER = "X-Yuqing-Signature"
ERROR_EXCERPT_CHARS = 200


def alert_document(alert: Payload, timezone: str = DEFAULT_TIMEZONE) -> dict[str, Any]:
    """The JSON object sent for one alert, or (``"type": "source_health"``) for a notice."""
    if isinstance(alert, NoticePayload):
        return {"type": "source_health", **dataclasses.asdict(alert), "found_at": alert.found_at.isoformat(),
                "subject": subject_of(alert), "text": text_of(alert, timezone)}
    fields = {"type": "alert", **dataclasses.asdict(alert)}
    fields["matched_terms"] = list(alert.matched_terms)
    fields["found_at"] = alert.found_at.isoformat()
    fields["published_at"] = alert.published_at.isoformat() if alert.published_at else None
    fields["subject"] = subject_of(alert)
    fields["text"] = text_of(alert, timezone)
    return fields


def sign(body: bytes, secret: str) -> str:
    """The ``X-Yuqing-Signature`` value a receiver recomputes to trust the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookNotifier:
    """Webhook：向 URL POST JSON（带 Idempotency-Key，可选 HMAC 签名）。"""

    def __init__(
        self,
        *,
        key: str,
        url: str,
        headers: Mapping[str, SecretStr] | None = None,
        secret: SecretStr | None = None,
        grades: Iterable[str] | None = None,
        timeout_s: float = 10.0,
        timezone: str = DEFAULT_TIMEZONE,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.key = key
        self.url = url
        self._headers = dict(headers or {})
        self._secret = secret
        self.grades = frozenset(grades) if grades is not None else None
        self.timeout_s = timeout_s
        self.timezone = timezone
        self._session = session  # None: a session per send (alerts are few; nothing to close on reload)

    @classmethod
    def from_channel(cls, channel: WebhookChannel, timezone: str = DEFAULT_TIMEZONE) -> WebhookNotifier:
        return cls(key=channel.key, url=channel.url, headers=channel.headers, secret=channel.secret,
                   grades=channel.grades, timeout_s=channel.timeout_s, timezone=timezone)

    def accepts(self, grade: str) -> bool:
        return self.grades is None or grade in self.grades

    def _request(self, alert: Payload) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(alert_document(alert, self.timezone), ensure_ascii=False).encode("utf-8")
        headers = {name: value.get_secret_value() for name, value in self._headers.items()}
        headers["Content-Type"] = "application/json; charset=utf-8"
        headers["Idempotency-Key"] = alert.idempotency_key
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = sign(body, self._secret.get_secret_value())
        return body, headers

    async def _post(self, session: aiohttp.ClientSession, body: bytes, headers: dict[str, str]) -> None:
        async with session.post(self.url, data=body, headers=headers, allow_redirects=False,
                                timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as response:
            if 200 <= response.status < 300:
                return
            excerpt = one_line((await response.content.read(ERROR_EXCERPT_CHARS * 4)).decode("utf-8", "replace"))
            raise DeliveryError(f"webhook 返回 HTTP {response.status} {response.reason or ''}"
                                f"{'：' + excerpt[:ERROR_EXCERPT_CHARS] if excerpt else ''}".rstrip())

    async def send(self, alert: Payload) -> None:
        body, headers = self._request(alert)
        # the URL may carry a token in its query: errors name only its host
        where = urlsplit(self.url).netloc.rpartition("@")[2]
        try:
            if self._session is not None:
                await self._post(self._session, body, headers)
            else:
                async with aiohttp.ClientSession() as session:
                    await self._post(session, body, headers)
        except TimeoutError:
            raise DeliveryError(f"webhook {where} 超时 (timed out after {self.timeout_s:g}s)") from None
        except aiohttp.ClientConnectorError as exc:
            raise DeliveryError(f"无法连接 webhook {where} (cannot connect): {exc.os_error.strerror or exc.os_error}") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise DeliveryError(f"webhook {where} 请求失败 (request failed): {type(exc).__name__}") from None
