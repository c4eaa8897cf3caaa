"""Notifiers: one small class per channel ``type`` written in alerts.yaml.

Each has ``from_channel(channel, timezone)``, ``key``, ``timeout_s``, ``accepts(grade)`` and
``async send(alert)``, which raises only ``DeliveryError`` (with a reason free of secrets); the
outbox retries it later. A new type (dingtalk, wecom, feishu …) is a module here, one entry in
``NOTIFIERS`` and its model in ``alerts.config.Channel``. The class docstring is the help text.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Protocol

from alerts.config import EmailChannel, WebhookChannel
from alerts.notifiers.email import EmailNotifier
from alerts.notifiers.message import DEFAULT_TIMEZONE
from alerts.notifiers.webhook import WebhookNotifier
from crawler.types import Payload


class Notifier(Protocol):
    key: str
    timeout_s: float

    def accepts(self, grade: str) -> bool: ...

    async def send(self, alert: Payload) -> None: ...


NOTIFIERS = MappingProxyType({"email": EmailNotifier, "webhook": WebhookNotifier})


def build_notifier(channel: EmailChannel | WebhookChannel, timezone: str = DEFAULT_TIMEZONE) -> Notifier:
    """The notifier for one configured channel; ``timezone`` is how times are shown to people."""
    notifier: Notifier = NOTIFIERS[channel.type].from_channel(channel, timezone)  # type: ignore[arg-type]
    return notifier


__all__ = ["NOTIFIERS", "EmailNotifier", "Notifier", "WebhookNotifier", "build_notifier"]
