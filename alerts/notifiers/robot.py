"""What the DingTalk, WeCom and Feishu group robots have in common.

Each is reached by one secret URL (the token is in its query or path): the URL is kept as a
``SecretStr``, errors name only its host, and any text that goes into an error is scrubbed of the
URL, its token and the signing secret. A robot answers HTTP 200 with a JSON code; anything but code
0 — a wrong signature, a stale timestamp, a missing keyword, a rate limit — is a ``DeliveryError``,
so the outbox tries again later with its backoff (a rate limit clears itself; a wrong secret keeps
failing, visibly, in the outbox's log until alerts.yaml is fixed).

Size limits: one alert is one message. When the rendering is over the service's limit, the snippet
(or a notice's message) is shortened with a note ``…（以下已截断，原文共 N 字）``; the facts and the
link are kept, and the whole text stays in email, the webhook and the desk. Splitting into several
messages was not chosen: a failure after part 1 would make the outbox resend every part, and each
part counts against the robot's 20-messages-a-minute limit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from pydantic import SecretStr
from yarl import URL

from alerts.notifiers.message import DEFAULT_TIMEZONE, one_line
from crawler.types import DeliveryError, Payload

ANSWER_MAX_BYTES = 64 * 1024
ERROR_EXCERPT_CHARS = 200
CUT = "…（消息过长，已截断）"
MAJOR = "重大"  # mentions (@) are for this grade only: a person's phone should not ring for 一般


def hmac_sha256_base64(key: str, message: str) -> str:
    """``base64(HMAC-SHA256(key, message))``, the signature both DingTalk and Feishu use."""
    digest = hmac.new(key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def encode(document: Mapping[str, Any]) -> bytes:
    """The request body exactly as sent (readable UTF-8, as the services' own examples)."""
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))


def fit(render: Callable[[int | None], str], size: Callable[[str], int], limit: int) -> str:
    """The longest rendering whose ``size`` is at most ``limit``.

    ``render(n)`` is the message with its free text (snippet or notice message) cut to ``n``
    characters, ``render(None)`` the whole. If even an empty snippet is too long (an enormous title
    or URL), the text itself is cut and marked.
    """
    whole = render(None)
    if size(whole) <= limit:
        return whole
    if size(render(0)) <= limit:
        low, high = 0, len(whole)  # render(high) is over the limit: it is at least the whole text
        while low < high:
            middle = (low + high + 1) // 2
            if size(render(middle)) <= limit:
                low = middle
            else:
                high = middle - 1
        return render(low)
    shortest = render(0)
    low, high = 0, len(shortest)
    while low < high:
        middle = (low + high + 1) // 2
        if size(shortest[:middle] + CUT) <= limit:
            low = middle
        else:
            high = middle - 1
    return shortest[:low] + CUT


class RobotNotifier:
    """The HTTP half of a group robot; a subclass says what to post (:meth:`request`)."""

    service: ClassVar[str] = "机器人"
    # (code, message) keys of the JSON answer, the first present one is read; 0 is success
    answer_fields: ClassVar[tuple[tuple[str, str], ...]] = (("errcode", "errmsg"),)
    hints: ClassVar[Mapping[int, str]] = {}  # what a person should do about a known error code

    def __init__(
        self,
        *,
        key: str,
        webhook: SecretStr | str,
        secret: SecretStr | str | None = None,
        grades: Iterable[str] | None = None,
        timeout_s: float = 10.0,
        timezone: str = DEFAULT_TIMEZONE,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key = key
        self._webhook = webhook if isinstance(webhook, SecretStr) else SecretStr(webhook)
        self._secret = secret if isinstance(secret, SecretStr) or secret is None else SecretStr(secret)
        self.grades = frozenset(grades) if grades is not None else None
        self.timeout_s = timeout_s
        self.timezone = timezone
        self._session = session  # None: a session per send (alerts are few; nothing to close on reload)
        self.clock = clock  # seconds since the epoch; signatures carry it and expire after an hour

    def accepts(self, grade: str) -> bool:
        return self.grades is None or grade in self.grades

    @property
    def where(self) -> str:
        """Host and port of the robot's URL: all an error may say about it."""
        return urlsplit(self._webhook.get_secret_value()).netloc.rpartition("@")[2]

    def request(self, payload: Payload) -> tuple[str, dict[str, Any]]:
        """The URL to post to (the webhook, signed if need be) and the JSON document."""
        raise NotImplementedError

    def _scrub(self, text: str) -> str:
        """``text`` without the URL, its token or the secret, in case an answer quotes them."""
        url = self._webhook.get_secret_value()
        parts = urlsplit(url)
        secrets = {url, parts.path.rstrip("/").rpartition("/")[2]}
        secrets.update(value for _, value in parse_qsl(parts.query))
        if self._secret is not None:
            secrets.add(self._secret.get_secret_value())
        for secret in sorted((s for s in secrets if len(s) >= 6), key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def _refusal(self, answer: object) -> str | None:
        """Why the JSON ``answer`` is not a success, or None when it is."""
        if isinstance(answer, dict):
            for code_field, message_field in self.answer_fields:
                if code_field in answer:
                    code = answer[code_field]
                    if code == 0:
                        return None
                    message = one_line(str(answer.get(message_field) or ""))[:ERROR_EXCERPT_CHARS]
                    hint = self.hints.get(code) if isinstance(code, int) else None
                    return f"错误码 {code}" + (f" {message}" if message else "") + (f"（{hint}）" if hint else "")
        return f"应答中没有{'或'.join(code for code, _ in self.answer_fields)} (no result code in the answer)"

    async def _post(self, session: aiohttp.ClientSession, url: str, body: bytes) -> None:
        # encoded=True: the URL goes out byte for byte, so a url-encoded ``sign`` is not re-encoded
        async with session.post(URL(url, encoded=True), data=body, allow_redirects=False,
                                headers={"Content-Type": "application/json; charset=utf-8"},
                                timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as response:
            raw = await response.content.read(ANSWER_MAX_BYTES)
            status, reason = response.status, response.reason or ""
        try:
            answer: object = json.loads(raw)
        except ValueError:
            answer = None
        if not 200 <= status < 300:
            refusal = self._refusal(answer) if isinstance(answer, dict) else None
            excerpt = refusal or one_line(raw.decode("utf-8", "replace"))[:ERROR_EXCERPT_CHARS]
            raise DeliveryError(self._scrub(f"{self.service} {self.where} 返回 HTTP {status} {reason}"
                                            f"{'：' + excerpt if excerpt else ''}".rstrip()))
        if answer is None:
            raise DeliveryError(f"{self.service} {self.where} 的应答不是 JSON (answer is not JSON)")
        refusal = self._refusal(answer)
        if refusal is not None:
            raise DeliveryError(self._scrub(f"{self.service} {self.where} 拒收：{refusal}"))

    async def send(self, payload: Payload) -> None:
        url, document = self.request(payload)
        body = encode(document)
        try:
            if self._session is not None:
                await self._post(self._session, url, body)
            else:
                async with aiohttp.ClientSession() as session:
                    await self._post(session, url, body)
        except TimeoutError:
            raise DeliveryError(f"{self.service} {self.where} 超时 (timed out after {self.timeout_s:g}s)") from None
        except aiohttp.ClientConnectorError as exc:
            raise DeliveryError(f"无法连接{self.service} {self.where} (cannot connect): "
                                f"{exc.os_error.strerror or type(exc.os_error).__name__}") from None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise DeliveryError(f"{self.service} {self.where} 请求失败 (request failed): {type(exc).__name__}") from None
