"""Feishu / Lark (飞书) custom bot: one text message per alert.

Settings read (``type: feishu`` in alerts.yaml): webhook, secret, at_all, grades, timeout_s.

With a ``secret`` (安全设置 → 签名校验) the JSON body carries ``timestamp`` (seconds, as a string)
and ``sign`` = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")) — note the string to
sign is the *key* and the message is empty, unlike DingTalk. Feishu refuses a timestamp more than an
hour from its clock. The message is plain text (the same text as the email; Feishu makes the link
clickable); the whole request body is kept within 20000 bytes. ``at_all`` adds
``<at user_id="all">所有人</at>`` to 重大 alerts; a ``<`` in crawled text is shown as ``＜`` so that a
page cannot mention anyone. Feishu answers ``{"code": 0, "msg": "success"}`` (older deployments
``{"StatusCode": 0}``); any other code is a failure.
"""

from __future__ import annotations

from typing import Any, ClassVar

from alerts.config import FeishuChannel
from alerts.notifiers.message import DEFAULT_TIMEZONE, text_of
from alerts.notifiers.robot import MAJOR, RobotNotifier, encode, fit, hmac_sha256_base64
from crawler.types import Payload

BODY_MAX_BYTES = 20000
AT_ALL = '<at user_id="all">所有人</at>'


def sign(timestamp_s: str, secret: str) -> str:
    """The ``sign`` body field for one timestamp, as Feishu documents it."""
    return hmac_sha256_base64(f"{timestamp_s}\n{secret}", "")


class FeishuNotifier(RobotNotifier):
    """飞书自定义机器人：文本消息，可选签名校验；重大告警可 @所有人。"""

    service = "飞书机器人"
    answer_fields = (("code", "msg"), ("StatusCode", "StatusMessage"))
    hints: ClassVar[dict[int, str]] = {
        19021: "签名校验未通过：secret 不符，或时间戳与飞书相差超过 1 小时（请校准服务器时间）",
        19022: "本机 IP 不在机器人的 IP 白名单中",
        19024: "消息不含机器人安全设置里的自定义关键词",
        11232: "发送太快，触发了飞书的频率限制，稍后自动重试",
    }

    def __init__(self, *, at_all: bool = False, **common: Any) -> None:
        super().__init__(**common)
        self.at_all = at_all

    @classmethod
    def from_channel(cls, channel: FeishuChannel, timezone: str = DEFAULT_TIMEZONE) -> FeishuNotifier:
        return cls(key=channel.key, webhook=channel.webhook, secret=channel.secret, at_all=channel.at_all,
                   grades=channel.grades, timeout_s=channel.timeout_s, timezone=timezone)

    def request(self, payload: Payload) -> tuple[str, dict[str, Any]]:
        signature: dict[str, str] = {}
        if self._secret is not None:
            timestamp = str(int(self.clock()))
            signature = {"timestamp": timestamp, "sign": sign(timestamp, self._secret.get_secret_value())}
        mention = "\n" + AT_ALL if payload.grade == MAJOR and self.at_all else ""

        def document(text: str) -> dict[str, Any]:
            return {**signature, "msg_type": "text", "content": {"text": text + mention}}

        text = fit(lambda chars: text_of(payload, self.timezone, body_chars=chars).replace("<", "＜"),
                   lambda text: len(encode(document(text))), BODY_MAX_BYTES)
        return self._webhook.get_secret_value(), document(text)
