"""Email channel: one plain-text Chinese message per alert, over SMTP (aiosmtplib).

Settings read (``type: email`` in alerts.yaml): smtp_host, smtp_port, username, password,
starttls, use_tls, sender, to, grades, timeout_s.

The Message-ID is derived from the alert's idempotency key, so a resend after a crash is the same
message to mail clients and archives, not a second alert.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Sequence
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

import aiosmtplib
from pydantic import SecretStr

from alerts.config import EmailChannel
from alerts.notifiers.message import DEFAULT_TIMEZONE, subject_of, text_of
from crawler.types import DeliveryError, Payload

log = logging.getLogger("yuqing.notifiers.email")

_MSGID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def message_id(idempotency_key: str) -> str:
    """The stable Message-ID of an alert; unsafe characters of the key become ``-``."""
    return f"<yuqing-{_MSGID_UNSAFE.sub('-', idempotency_key)}@yuqing.local>"


class EmailNotifier:
    """邮件：通过 SMTP 发送纯文本中文告警邮件。"""

    def __init__(
        self,
        *,
        key: str,
        smtp_host: str,
        sender: str,
        to: Sequence[str],
        smtp_port: int = 25,
        username: str | None = None,
        password: SecretStr | None = None,
        starttls: bool = False,
        use_tls: bool = False,
        grades: Iterable[str] | None = None,
        timeout_s: float = 30.0,
        timezone: str = DEFAULT_TIMEZONE,
    ) -> None:
        self.key = key
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port
        self.sender = sender
        self.to = tuple(to)
        self.username = username
        self._password = password
        self.starttls = starttls
        self.use_tls = use_tls
        self.grades = frozenset(grades) if grades is not None else None
        self.timeout_s = timeout_s
        self.timezone = timezone

    @classmethod
    def from_channel(cls, channel: EmailChannel, timezone: str = DEFAULT_TIMEZONE) -> EmailNotifier:
        return cls(key=channel.key, smtp_host=channel.smtp_host, smtp_port=channel.smtp_port,
                   sender=channel.sender, to=channel.to, username=channel.username, password=channel.password,
                   starttls=channel.starttls, use_tls=channel.use_tls, grades=channel.grades,
                   timeout_s=channel.timeout_s, timezone=timezone)

    def accepts(self, grade: str) -> bool:
        return self.grades is None or grade in self.grades

    def build_message(self, alert: Payload) -> EmailMessage:
        """The whole message; headers are RFC 2047-encoded by the SMTP policy, the body is base64 UTF-8."""
        message = EmailMessage(policy=SMTP)
        message["Subject"] = subject_of(alert)
        message["From"] = self.sender
        message["To"] = ", ".join(self.to)
        message["Date"] = format_datetime(alert.found_at)  # when found: a resend carries the same date
        message["Message-ID"] = message_id(alert.idempotency_key)
        message["X-Yuqing-Idempotency-Key"] = alert.idempotency_key
        message["X-Yuqing-Grade"] = alert.grade
        if alert.grade == "重大":  # flagged in the leader's mail client
            message["Importance"] = "high"
            message["X-Priority"] = "1"
        # base64 rather than 8bit: an old relay without 8BITMIME must not mangle the Chinese text
        message.set_content(text_of(alert, self.timezone), charset="utf-8", cte="base64")
        return message

    def _reason(self, exc: BaseException) -> str:
        """What went wrong, in words an operator can act on, with the password scrubbed out."""
        where = f"{self.smtp_host}:{self.smtp_port}"
        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
            refused = "; ".join(f"{e.recipient} {e.code} {e.message}" for e in exc.recipients)
            text = f"SMTP 服务器 {where} 拒收全部收件人 (recipients refused): {refused}"
        elif isinstance(exc, aiosmtplib.SMTPAuthenticationError):
            text = f"SMTP 登录失败 (authentication failed) {where}: {exc.code} {exc.message}"
        elif isinstance(exc, aiosmtplib.SMTPResponseException):
            text = f"SMTP 服务器 {where} 拒绝 (rejected): {exc.code} {exc.message}"
        elif isinstance(exc, TimeoutError):
            text = f"SMTP 服务器 {where} 超时 (timed out after {self.timeout_s:g}s)"
        elif isinstance(exc, ConnectionError):
            text = f"无法连接 SMTP 服务器 {where} (cannot connect): {exc}"
        elif isinstance(exc, aiosmtplib.SMTPException):
            text = f"SMTP 错误 {where}: {exc.message}"
        else:  # OSError: TLS handshake, certificate, network unreachable
            text = f"SMTP 连接出错 {where} (network/TLS error): {exc}"
        secret = self._password.get_secret_value() if self._password else ""
        return text.replace(secret, "***") if secret else text

    async def send(self, alert: Payload) -> None:
        message = self.build_message(alert)
        try:
            async with asyncio.timeout(self.timeout_s):  # aiosmtplib's timeout is per step; this bounds the whole
                refused, _ = await aiosmtplib.send(
                    message, hostname=self.smtp_host, port=self.smtp_port, username=self.username,
                    password=self._password.get_secret_value() if self._password else None,
                    use_tls=self.use_tls, start_tls=self.starttls, timeout=self.timeout_s)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryError(self._reason(exc)) from None  # not chained: the cause may quote credentials
        if refused:
            # Accepted for the others: a retry would send them a duplicate, and a refused address
            # stays refused; so log it for the operator instead of failing the delivery.
            log.warning("email channel=%s key=%s refused recipients: %s", self.key, alert.idempotency_key,
                        "; ".join(f"{addr} {resp.code} {resp.message}" for addr, resp in refused.items()))
