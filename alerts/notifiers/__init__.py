"""Notifiers: one small class per channel ``type`` written in alerts.yaml.

Each has ``from_channel(channel, timezone)``, ``key``, ``timeout_s``, ``accepts(grade)`` and
``async send(alert)``, which raises only ``DeliveryError`` (with a reason free of secrets); the
outbox retries it later. A new type is a module here, one entry in ``NOTIFIERS`` and its model in
``alerts.config.Channel``. The class docstring is the help text. The group robots of China's
messaging apps (dingtalk, wecom, feishu) share their HTTP handling in ``robot.py``.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Protocol

from alerts.config import AnyChannel
from alerts.notifiers.dingtalk import DingTalkNotifier
from alerts.notifiers.email import EmailNotifier
from alerts.notifiers.feishu import FeishuNotifier
from alerts.notifiers.message import DEFAULT_TIMEZONE
from alerts.notifiers.webhook import WebhookNotifier
from alerts.notifiers.wecom import WeComNotifier
from crawler.types import Payload


class Notifier(Protocol):
    key: str
    timeout_s: float

    def accepts(self, grade: str) -> bool: ...

    async def send(self, alert: Payload) -> None: ...


NOTIFIERS = MappingProxyType({"email": EmailNotifier, "webhook": WebhookNotifier, "dingtalk": DingTalkNotifier,
                              "wecom": WeComNotifier, "feishu": FeishuNotifier})


def build_notifier(channel: AnyChannel, timezone: str = DEFAULT_TIMEZONE) -> Notifier:
    """The notifier for one configured channel; ``timezone`` is how times are shown to people."""
    notifier: Notifier = NOTIFIERS[channel.type].from_channel(channel, timezone)  # type: ignore[arg-type]
    return notifier


__all__ = ["NOTIFIERS", "DingTalkNotifier", "EmailNotifier", "FeishuNotifier", "Notifier", "WeComNotifier",
           "WebhookNotifier", "build_notifier"]
