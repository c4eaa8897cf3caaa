"""The models of ``sources.yaml``: what to patrol, when, and how politely.

Precedence, one place: built-in defaults < top-level ``defaults`` < the source's own keys.
Misspelt keys are errors (``extra="forbid"``), never silently dropped.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, IPvAnyNetwork, field_validator, model_validator

from crawler.schedule.windows import ALL_WEEKDAYS, PatrolSchedule, Window

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_WEEKDAYS = {
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
    "周一": 0, "周二": 1, "周三": 2, "周四": 3, "周五": 4, "周六": 5, "周日": 6, "周天": 6,
}
SOURCE_TYPES = ("rss", "news", "tieba", "discuz", "html")


def _seconds(value: object) -> float:
    """``15m`` / ``1s`` / ``500ms`` / ``2`` → seconds (0 allowed: no delay, no jitter)."""
    if isinstance(value, bool):
        raise ValueError("应为时长，例如 15m、30s、1h (expected a duration)")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError(f"应为时长，例如 15m、30s、1h (expected a duration, got {value!r})")
        seconds = float(m.group(1)) * _UNIT_S[m.group(2)]
    return seconds


def positive_seconds(value: object) -> float:
    seconds = _seconds(value)
    if seconds <= 0:
        raise ValueError("时长必须大于 0 (duration must be positive)")
    return seconds


Seconds = Annotated[float, BeforeValidator(_seconds)]
PositiveSeconds = Annotated[float, BeforeValidator(positive_seconds)]


def _windows(value: object) -> object:
    if value == "always" or value is None:
        return value
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ValueError('应为时间窗列表或 always，例如 ["13:00-14:00", "16:00-17:00"]')
    for item in value:
        Window.parse(str(item))
    return [str(v) for v in value]


def _weekdays(value: object) -> object:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise ValueError("应为星期列表，例如 [mon, tue, wed, thu, fri] 或 [1, 2, 3, 4, 5]")
    out: list[int] = []
    for v in value:
        if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 7:
            out.append(v - 1)
        elif isinstance(v, str) and v.strip().lower()[:3] in _WEEKDAYS:
            out.append(_WEEKDAYS[v.strip().lower()[:3]])
        elif isinstance(v, str) and v.strip() in _WEEKDAYS:
            out.append(_WEEKDAYS[v.strip()])
        else:
            raise ValueError(f"无法识别的星期 unknown weekday {v!r} (mon…sun, 1…7, 周一…周日)")
    return sorted(set(out))


Windows = Annotated[list[str] | Literal["always"] | None, BeforeValidator(_windows)]
Weekdays = Annotated[list[int] | None, BeforeValidator(_weekdays)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Politeness(_Strict):
    """Keys allowed both in ``defaults`` and on a source."""

    every: PositiveSeconds | None = None
    per_host: int | None = Field(default=None, ge=1, le=16)
    delay: Seconds | None = None
    timeout: PositiveSeconds | None = None
    max_body: int | None = Field(default=None, ge=1024, description="最大响应字节数")
    retries: int | None = Field(default=None, ge=0, le=10)
    jitter: Seconds | None = None
    weekdays: Weekdays = None
    max_items: int | None = Field(default=None, ge=1, description="每次巡查最多抓取的新文章数")
    screenshot: bool | None = Field(default=None, description="命中时用无头浏览器给页面整页截图，存入证据")


class SourceSpec(Politeness):
    """One source; the type picks the adapter."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    name: str | None = None
    type: Literal["rss", "news", "tieba", "discuz", "html"]
    url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    forum: str | None = None
    pages: int | None = Field(default=None, ge=1, le=100)
    max_pages: int | None = Field(default=None, ge=1, le=1000, description="每个帖子每次巡查最多抓取的页数（含楼中楼页）")
    encoding: str | None = None
    cookie_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    headers: dict[str, str] | None = None
    robots: Literal["obey", "ignore"] = "obey"
    windows: Windows = None
    link_selector: str | None = None
    title_selector: str | None = None
    text_selector: str | None = None
    render: bool = Field(default=False, description="用无头 Chromium 打开本来源的每个页面（列表页和文章页），执行脚本后再解析")
    enabled: bool = True

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is not None:
            import codecs

            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(f"未知编码 unknown encoding {value!r}") from None
        return value

    @field_validator("headers")
    @classmethod
    def _no_secret_headers(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for key in value or {}:
            if key.lower() in {"cookie", "authorization"}:
                raise ValueError(f"{key} 属于机密，请用 cookie_env 从环境变量读取 (secrets never go in sources.yaml)")
        return value

    @model_validator(mode="after")
    def _type_needs(self) -> "SourceSpec":
        if self.type == "tieba":
            if not self.forum:
                raise ValueError("tieba 类型需要 forum（吧名）")
        elif not self.url:
            raise ValueError(f"{self.type} 类型需要 url")
        if self.type == "html" and not self.link_selector:
            raise ValueError("html 类型需要 link_selector（CSS 选择器，选出文章链接）")
        if self.render and self.type == "rss":
            raise ValueError("rss 来源不能用 render：订阅是 XML，没有要执行的脚本 (render is for HTML pages)")
        return self

    @property
    def display_name(self) -> str:
        return self.name or self.id


class BrowserOptions(_Strict):
    """``browser:`` — the headless Chromium used by ``render: true`` and ``screenshot: true``."""

    executable: str | None = Field(default=None, description="Chromium 路径，默认 PATH 里的 chromium")
    pages: int = Field(default=2, ge=1, le=16, description="同时打开的页面数（整个进程）")
    timeout: PositiveSeconds = Field(default=30.0, description="每个页面（含截图）的时限")


class SourcesFile(_Strict):
    """The whole ``sources.yaml``."""

    timezone: str = "Asia/Shanghai"
    windows: Windows = None
    defaults: Politeness = Field(default_factory=Politeness)
    # true: any address; a list of networks (["10.1.2.0/24"]): those only — an intranet forum, or a
    # site on this machine — every other private address (metadata service, router…) still refused
    allow_private_networks: bool | list[IPvAnyNetwork] = False
    user_agent: str | None = None
    browser: BrowserOptions = Field(default_factory=BrowserOptions)
    # where pages are parsed: "auto" (in worker processes, one per CPU, while parsing keeps the
    # daemon busy), 0 (in the daemon only), or that many workers all along; read at start
    parse_workers: Literal["auto"] | Annotated[int, Field(ge=0, le=16)] = "auto"
    sources: list[SourceSpec] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"未知时区 unknown timezone {value!r}, e.g. Asia/Shanghai") from None
        return value

    def setting(self, source: SourceSpec, key: str, builtin: object) -> object:
        """The effective value of a politeness key: source, then defaults, then built-in."""
        for layer in (source, self.defaults):
            value = getattr(layer, key)
            if value is not None:
                return value
        return builtin

    def needs_browser(self, source: SourceSpec) -> bool:
        """Whether patrolling this source uses Chromium (to render pages or to take screenshots)."""
        return source.render or bool(self.setting(source, "screenshot", False))

    def schedule(self, source: SourceSpec) -> PatrolSchedule:
        windows = source.windows if source.windows is not None else self.windows
        parsed = () if windows in (None, "always") else tuple(Window.parse(w) for w in windows)
        weekdays = self.setting(source, "weekdays", None)
        return PatrolSchedule(
            windows=parsed,
            every_s=float(self.setting(source, "every", 900.0)),  # type: ignore[arg-type]
            tz=ZoneInfo(self.timezone),
            weekdays=frozenset(weekdays) if weekdays else ALL_WEEKDAYS,  # type: ignore[arg-type]
        )
