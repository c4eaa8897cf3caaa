"""The models of ``alerts.yaml``: where alerts go.

Settings read (per channel, ``type`` picks the model):

* ``email``   — name, smtp_host, smtp_port (25), username, password, starttls (false),
  use_tls (false, implicit TLS, usually port 465), sender, to, grades (all), timeout_s (30)
* ``webhook`` — name, url, headers, secret (HMAC-SHA256 of the body in ``X-Yuqing-Signature``),
  grades (all), timeout_s (10)
* ``dingtalk`` — name, webhook (the robot's whole URL with its access_token), secret (加签, ``SEC…``),
  at_mobiles, at_all (both only for 重大), grades (all), timeout_s (10)
* ``wecom``   — name, webhook (the whole URL with its key), mentioned_mobile_list (only for 重大;
  ``"@all"`` for everyone), grades (all), timeout_s (10)
* ``feishu``  — name, webhook (the whole URL, token in the path), secret (签名校验), at_all (only for
  重大), grades (all), timeout_s (10)

Misspelt keys are errors (``extra="forbid"``). Secrets arrive already interpolated from
``${ENV_VAR}`` by the loader; they are ``SecretStr`` so that no repr, log line or error shows them.
A robot's ``webhook`` URL is a secret as a whole: whoever has it can post to the group.

Channel key: the outbox stores one delivery per (alert, channel key), so the key must survive
restarts and reloads. It is the channel's ``name`` when given; otherwise it is derived from where
the channel delivers (``email:<recipients>``, ``webhook:<url without query>``), never from its
position in the file, so inserting or reordering channels does not orphan pending deliveries.
Robot URLs differ only in their token, so a robot's derived key is ``dingtalk:<host>#<12 hex digits
of SHA-256 of the URL>`` — stable, distinct per robot, and not the token itself.
Give a channel a ``name`` to keep its key when you change its recipients or URL. Two channels
with the same key are an error.

Every channel also takes ``digest`` (false): with ``digest: true`` its 一般 alerts are not pushed one
by one but gathered into one 一般舆情汇总 at each of ``digest_at`` (default 14:00 and 17:00, the ends
of the usual patrol windows, in the sources' timezone); 重大 alerts always go at once (DESIGN §7).

A new channel type is one more model in ``Channel`` plus its class in ``alerts.notifiers``.
"""

from __future__ import annotations

import hashlib
import re
from email.utils import getaddresses
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, SecretStr, Tag, field_validator, model_validator

from alerts.deadlines import DeadlineSettings
from alerts.reports.settings import ReportSchedule

Grade = Literal["一般", "重大"]

MAX_KEY_CHARS = 100  # the deliveries table keeps channel keys in a String(128)


def _check_address(value: str) -> str:
    pairs = getaddresses([value])
    addr = pairs[0][1] if len(pairs) == 1 else ""
    local, _, domain = addr.rpartition("@")
    if not local or not domain or any(c.isspace() for c in addr) or "\r" in value or "\n" in value:
        raise ValueError(f"不是有效的邮箱地址 not an email address: {value!r}")
    return value


def _check_header(name: str) -> str:
    if not name or any(c in name for c in ":\r\n ") or not name.isascii():
        raise ValueError(f"无效的 HTTP 头名 invalid header name: {name!r}")
    return name


def _check_mobile(value: str) -> str:
    if not _MOBILE.fullmatch(value):
        raise ValueError(f"不是手机号 not a mobile number: {value!r}（如 13800000000 或 +86-13800000000）")
    return value


def _check_mention(value: str) -> str:
    return value if value == "@all" else _check_mobile(value)


_MOBILE = re.compile(r"\+?[0-9][0-9-]{4,19}")

Address = Annotated[str, AfterValidator(_check_address)]
HeaderName = Annotated[str, AfterValidator(_check_header)]
Mobile = Annotated[str, AfterValidator(_check_mobile)]


def _derived_key(kind: str, destination: str) -> str:
    """``kind:destination``; a long destination is shortened with a hash so keys stay distinct."""
    key = f"{kind}:{destination}"
    if len(key) <= MAX_KEY_CHARS:
        return key
    digest = hashlib.sha256(destination.encode()).hexdigest()[:10]
    return f"{key[: MAX_KEY_CHARS - 12]}…{digest}"


class _ChannelBase(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    name: str | None = Field(None, min_length=1, max_length=MAX_KEY_CHARS)
    grades: list[Grade] | None = Field(None, min_length=1)  # None: every grade
    digest: bool = False  # 一般 alerts gathered into one message at each of AlertsFile.digest_at

    def accepts(self, grade: str) -> bool:
        """Whether alerts of this grade go to this channel."""
        return self.grades is None or grade in self.grades


class EmailChannel(_ChannelBase):
    """邮件：通过 SMTP 发送纯文本中文告警邮件。"""

    type: Literal["email"]
    smtp_host: str = Field(min_length=1)
    smtp_port: int = Field(25, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = False
    use_tls: bool = False
    sender: Address
    to: list[Address] = Field(min_length=1)
    timeout_s: float = Field(30.0, gt=0, le=600)

    @model_validator(mode="after")
    def _consistent(self) -> EmailChannel:
        if self.starttls and self.use_tls:
            raise ValueError("starttls 与 use_tls 只能选一个 (use_tls: implicit TLS, port 465; starttls: port 587)")
        if (self.username is None) != (self.password is None):
            raise ValueError("username 和 password 需同时填写 (both or neither)")
        return self

    @property
    def key(self) -> str:
        recipients = ",".join(sorted(addr for _, addr in getaddresses(self.to)))
        return self.name or _derived_key(self.type, recipients)


class WebhookChannel(_ChannelBase):
    """Webhook：向 URL POST JSON（带 Idempotency-Key，可选 HMAC 签名）。"""

    type: Literal["webhook"]
    url: str
    headers: dict[HeaderName, SecretStr] | None = None  # values often carry tokens: hidden like secrets
    secret: SecretStr | None = None
    timeout_s: float = Field(10.0, gt=0, le=600)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
            raise ValueError(f"应为 http:// 或 https:// 地址 expected an http(s) URL: {value!r}")
        return value

    @field_validator("headers")
    @classmethod
    def _single_line_values(cls, value: dict[str, SecretStr] | None) -> dict[str, SecretStr] | None:
        for name, secret in (value or {}).items():
            if any(c in secret.get_secret_value() for c in "\r\n"):
                raise ValueError(f"HTTP 头 {name} 的值不能换行 (header value contains a line break)")
        return value

    @property
    def key(self) -> str:
        parts = urlsplit(self.url)  # no query, fragment or user info: they may hold tokens
        port = f":{parts.port}" if parts.port else ""
        return self.name or _derived_key(self.type, f"{parts.scheme}://{parts.hostname}{port}{parts.path}")


class _RobotChannel(_ChannelBase):
    """A group robot of a Chinese messaging app, reached by one secret URL."""

    # pydantic would print a rejected value in its error text; here that value may be the token
    model_config = ConfigDict(hide_input_in_errors=True)

    type: str
    webhook: SecretStr  # the token is inside the URL: the whole URL is hidden like a password
    timeout_s: float = Field(10.0, gt=0, le=600)

    @field_validator("webhook")
    @classmethod
    def _robot_url(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()  # the message never quotes the URL: it holds the token
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or not url.isascii() \
                or any(c.isspace() for c in url):
            raise ValueError("webhook 应为机器人完整的 http(s) 地址，请从群机器人设置中整段复制 "
                             "(expected the robot's whole http(s) URL)")
        return value

    @property
    def key(self) -> str:
        url = self.webhook.get_secret_value()
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
        digest = hashlib.sha256(url.encode()).hexdigest()[:12]
        return self.name or _derived_key(self.type, f"{parts.hostname}{port}#{digest}")


def _nonempty_secret(value: SecretStr | None) -> SecretStr | None:
    if value is not None and not value.get_secret_value():
        raise ValueError("secret 为空：不用加签就删去这一行 (empty secret: remove the line if unsigned)")
    return value


class DingTalkChannel(_RobotChannel):
    """钉钉群机器人：markdown 消息，可选加签；重大告警可 @ 指定手机号或所有人。"""

    type: Literal["dingtalk"]
    secret: Annotated[SecretStr | None, AfterValidator(_nonempty_secret)] = None  # 加签密钥，SEC 开头
    at_mobiles: list[Mobile] = Field(default_factory=list)
    at_all: bool = False


class WeComChannel(_RobotChannel):
    """企业微信群机器人：markdown 消息；重大告警可 @ 指定手机号（"@all" 为所有人）。"""

    type: Literal["wecom"]
    mentioned_mobile_list: list[Annotated[str, AfterValidator(_check_mention)]] = Field(default_factory=list)


class FeishuChannel(_RobotChannel):
    """飞书自定义机器人：文本消息，可选签名校验；重大告警可 @所有人。"""

    type: Literal["feishu"]
    secret: Annotated[SecretStr | None, AfterValidator(_nonempty_secret)] = None  # 签名校验密钥
    at_all: bool = False


AnyChannel = EmailChannel | WebhookChannel | DingTalkChannel | WeComChannel | FeishuChannel


def _channel_type(value: Any) -> Any:
    return value.get("type") if isinstance(value, dict) else getattr(value, "type", None)


# A callable discriminator only so that an unknown ``type`` gets a message in Chinese.
Channel = Annotated[
    Annotated[EmailChannel, Tag("email")] | Annotated[WebhookChannel, Tag("webhook")]
    | Annotated[DingTalkChannel, Tag("dingtalk")] | Annotated[WeComChannel, Tag("wecom")]
    | Annotated[FeishuChannel, Tag("feishu")],
    Discriminator(_channel_type, custom_error_type="channel_type",
                  custom_error_message="未知或缺少渠道类型 type，可选 email、webhook、dingtalk、wecom、feishu "
                                       "(unknown or missing channel type)"),
]


class AlertsFile(BaseModel):
    """The whole of ``alerts.yaml``; an absent file means no channels."""

    # a rejected value may be a password or a robot's URL: errors name the field, never print it
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    channels: list[Channel] = Field(default_factory=list)
    deadlines: DeadlineSettings = Field(default_factory=DeadlineSettings)  # 处置时限; absent: the regulations' numbers
    institution: str | None = Field(None, min_length=1, max_length=128)  # 单位名称 on forms and reports
    reports: list[ReportSchedule] = Field(default_factory=list)  # 定时报表 (alerts.reports.settings)
    # 一般舆情汇总: when channels with ``digest: true`` get their 一般 alerts, local "HH:MM" times
    digest_at: list[str] = Field(default_factory=lambda: ["14:00", "17:00"], min_length=1)

    def channels_for(self, grade: str) -> list[str]:
        """Keys of the channels that take alerts of this grade."""
        return [channel.key for channel in self.channels if channel.accepts(grade)]

    def digest_channels(self) -> frozenset[str]:
        """Keys of the channels that take their 一般 alerts as a digest."""
        return frozenset(channel.key for channel in self.channels if channel.digest)

    @field_validator("digest_at")
    @classmethod
    def _clock_times(cls, times: list[str]) -> list[str]:
        for value in times:
            hours, _, minutes = value.partition(":")
            if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60 and len(minutes) == 2):
                raise ValueError(f"汇总时间应写成 时:分，如 \"14:00\"，不是 {value!r} (digest_at wants HH:MM)")
        return sorted(set(times), key=lambda v: (int(v.split(":")[0]), v))

    @field_validator("channels")
    @classmethod
    def _unique_keys(cls, channels: list[AnyChannel]) -> list[AnyChannel]:
        seen: dict[str, int] = {}
        for i, channel in enumerate(channels):
            if channel.key in seen:
                raise ValueError(f"channels[{i}] 与 channels[{seen[channel.key]}] 的渠道标识重复 "
                                 f"(duplicate channel key {channel.key!r}): 请给它们不同的 name")
            seen[channel.key] = i
        return channels

    @model_validator(mode="after")
    def _report_channels(self) -> AlertsFile:
        emails = [c for c in self.channels if isinstance(c, EmailChannel)]
        keys: set[str] = set()
        for i, schedule in enumerate(self.reports):
            if not emails:
                raise ValueError(f"reports[{i}]: 定时报表需要一个 type: email 的渠道来发送 (needs an email channel)")
            if schedule.channel is not None and schedule.channel not in {c.key for c in emails}:
                raise ValueError(f"reports[{i}]: 没有名为 {schedule.channel!r} 的邮件渠道 (no such email channel)")
            if schedule.key in keys:
                raise ValueError(f"reports[{i}]: 与前面的报表重名 (duplicate schedule {schedule.key!r}): 请给它不同的 name")
            keys.add(schedule.key)
        return self

    def report_channel(self, schedule: ReportSchedule) -> EmailChannel:
        """The email channel whose SMTP settings send this schedule's reports."""
        emails = [c for c in self.channels if isinstance(c, EmailChannel)]
        return next(c for c in emails if schedule.channel in (None, c.key))
