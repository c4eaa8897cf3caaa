"""WeCom (企业微信) group robot: one markdown message per alert.

Settings read (``type: wecom`` in alerts.yaml): webhook, mentioned_mobile_list, grades, timeout_s.

WeCom's robot has no signature: the ``key`` in the URL is the only credential. The markdown
``content`` is kept within 4096 bytes of UTF-8. WeCom's markdown cannot @ anyone by phone number, so
a 重大 alert for a channel with ``mentioned_mobile_list`` goes out as a ``text`` message instead
(plain text, at most 2048 bytes) carrying the list; ``"@all"`` in it mentions everyone.
WeCom answers HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}``; any other errcode is a failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from alerts.config import WeComChannel
from alerts.notifiers.message import DEFAULT_TIMEZONE, markdown_of, text_of
from alerts.notifiers.robot import MAJOR, RobotNotifier, fit, utf8_size
from crawler.types import Payload

MARKDOWN_MAX_BYTES = 4096
TEXT_MAX_BYTES = 2048


class WeComNotifier(RobotNotifier):
    """企业微信群机器人：markdown 消息；重大告警可 @ 指定手机号（"@all" 为所有人）。"""

    service = "企业微信机器人"
    hints: ClassVar[dict[int, str]] = {
        45009: "发送太快，每个机器人每分钟最多 20 条，稍后自动重试",
        93000: "webhook 地址无效：key 不对，或机器人已被移出群",
    }

    def __init__(self, *, mentioned_mobile_list: Sequence[str] = (), **common: Any) -> None:
        super().__init__(**common)
        self.mentioned_mobile_list = tuple(mentioned_mobile_list)

    @classmethod
    def from_channel(cls, channel: WeComChannel, timezone: str = DEFAULT_TIMEZONE) -> WeComNotifier:
        return cls(key=channel.key, webhook=channel.webhook, mentioned_mobile_list=channel.mentioned_mobile_list,
                   grades=channel.grades, timeout_s=channel.timeout_s, timezone=timezone)

    def request(self, payload: Payload) -> tuple[str, dict[str, Any]]:
        url = self._webhook.get_secret_value()
        if payload.grade == MAJOR and self.mentioned_mobile_list:
            content = fit(lambda chars: text_of(payload, self.timezone, body_chars=chars), utf8_size, TEXT_MAX_BYTES)
            return url, {"msgtype": "text",
                         "text": {"content": content, "mentioned_mobile_list": list(self.mentioned_mobile_list)}}
        content = fit(lambda chars: markdown_of(payload, self.timezone, body_chars=chars), utf8_size,
                      MARKDOWN_MAX_BYTES)
        return url, {"msgtype": "markdown", "markdown": {"content": content}}
