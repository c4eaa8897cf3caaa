"""DingTalk (钉钉) custom group robot: one markdown message per alert.

Settings read (``type: dingtalk`` in alerts.yaml): webhook, secret, at_mobiles, at_all, grades,
timeout_s.

With a ``secret`` (安全设置 → 加签) every request carries ``timestamp`` (milliseconds) and
``sign`` = urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"))) as query
parameters; DingTalk refuses a timestamp more than an hour from its clock, so the server's clock
must be right (NTP). If the robot uses 自定义关键词 instead, the keyword must appear in every
message — "舆情" will do: every message ends with "yuqing 舆情监测自动发送". The markdown ``text`` is kept within 20000 bytes.
DingTalk answers HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}``; any other errcode is a failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import quote_plus, urlsplit

from alerts.config import DingTalkChannel
from alerts.notifiers.message import DEFAULT_TIMEZONE, markdown_of, subject_of
from alerts.notifiers.robot import MAJOR, RobotNotifier, fit, hmac_sha256_base64, utf8_size
from crawler.types import Payload

TEXT_MAX_BYTES = 20000


def sign(timestamp_ms: str, secret: str) -> str:
    """The ``sign`` query value (already url-encoded) for one timestamp, as DingTalk documents it."""
    return quote_plus(hmac_sha256_base64(secret, f"{timestamp_ms}\n{secret}"))


class DingTalkNotifier(RobotNotifier):
    """钉钉群机器人：markdown 消息，可选加签；重大告警可 @ 指定手机号或所有人。"""

    service = "钉钉机器人"
    hints: ClassVar[dict[int, str]] = {
        310000: "安全设置校验未通过：加签 secret 不符、时间戳与钉钉相差超过 1 小时（请校准服务器时间）、"
                "消息缺少自定义关键词或本机 IP 不在白名单",
        130101: "发送太快，每个机器人每分钟最多 20 条，稍后自动重试",
    }

    def __init__(self, *, at_mobiles: Sequence[str] = (), at_all: bool = False, **common: Any) -> None:
        super().__init__(**common)
        self.at_mobiles = tuple(at_mobiles)
        self.at_all = at_all

    @classmethod
    def from_channel(cls, channel: DingTalkChannel, timezone: str = DEFAULT_TIMEZONE) -> DingTalkNotifier:
        return cls(key=channel.key, webhook=channel.webhook, secret=channel.secret, at_mobiles=channel.at_mobiles,
                   at_all=channel.at_all, grades=channel.grades, timeout_s=channel.timeout_s, timezone=timezone)

    def _url(self) -> str:
        url = self._webhook.get_secret_value()
        if self._secret is None:
            return url
        timestamp = str(int(self.clock() * 1000))
        separator = "&" if urlsplit(url).query else "?"
        return f"{url}{separator}timestamp={timestamp}&sign={sign(timestamp, self._secret.get_secret_value())}"

    def request(self, payload: Payload) -> tuple[str, dict[str, Any]]:
        mention = payload.grade == MAJOR and (self.at_mobiles or self.at_all)
        # the client highlights an @ only when the number also appears in the text
        at_line = "\n\n" + " ".join(f"@{mobile}" for mobile in self.at_mobiles) if mention and self.at_mobiles else ""
        text = fit(lambda chars: markdown_of(payload, self.timezone, line_break="\n\n", body_chars=chars) + at_line,
                   utf8_size, TEXT_MAX_BYTES)
        document: dict[str, Any] = {"msgtype": "markdown", "markdown": {"title": subject_of(payload), "text": text}}
        if mention:
            document["at"] = {"atMobiles": list(self.at_mobiles), "isAtAll": self.at_all}
        return self._url(), document
