"""Plain data passed between the stages.

A leaf module: it imports nothing else of the project, so ``storage/`` and ``alerts/`` can depend
on these types without pulling in the crawler.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from ipaddress import IPv4Network, IPv6Network


@dataclass(frozen=True)
class FetchPolicy:
    """What one source allows the fetcher to do; built from sources.yaml, defaults applied."""

    user_agent: str = "yuqing/0.1 (+https://github.com/yuqing-monitor/yuqing; 舆情监测)"
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 20.0
    total_timeout_s: float = 60.0
    max_body_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    retries: int = 2  # extra attempts after a timeout, a connection error or a 5xx
    backoff_s: float = 1.0
    obey_robots: bool = True
    # True, or the private networks that may be reached (crawler.fetch.netguard.Allowed)
    allow_private_networks: bool | tuple[IPv4Network | IPv6Network, ...] = False
    encoding: str | None = None  # forced charset, e.g. "gbk"; None = header, <meta>, detection
    headers: tuple[tuple[str, str], ...] = ()
    cookie: str | None = None  # the value read from the source's cookie_env, never from the file
    per_host: int = 2  # concurrent requests to one host
    delay_s: float = 1.0  # pause between two requests to one host


@dataclass(frozen=True)
class Validators:
    """Conditional-GET state remembered per URL."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """One HTTP exchange, kept whole because it is also the evidence of a hit."""

    url: str  # the URL asked for
    final_url: str  # after redirects
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes  # decompressed body bytes as received
    text: str  # body decoded with the detected charset
    encoding: str
    fetched_at: datetime  # aware, UTC
    elapsed_ms: int
    request_headers: tuple[tuple[str, str], ...] = ()
    not_modified: bool = False  # a 304 answer to a conditional GET: nothing new

    @property
    def validators(self) -> Validators:
        lower = {k.lower(): v for k, v in self.headers}
        return Validators(etag=lower.get("etag"), last_modified=lower.get("last-modified"))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


class FetchError(Exception):
    """An expected fetch failure with a reason a person can read (no traceback in the logs)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{reason}: {url}")
        self.url = url
        self.reason = reason


@dataclass(frozen=True)
class Item:
    """One piece of content found by a source: an article, a feed entry, a forum post."""

    url: str  # canonical URL, the identity of the item
    source_id: str
    title: str
    text: str
    fetched_at: datetime
    author: str | None = None
    published_at: datetime | None = None
    parent_url: str | None = None  # e.g. the thread of a forum post
    # A reply carries its thread's subject as title for display; matching skips it, or a keyword in
    # the subject would raise one alert per reply.
    title_inherited: bool = False

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(f"{self.title}\n{self.text}".encode()).hexdigest()


@dataclass(frozen=True)
class TermMatch:
    """One occurrence of a term that a rule relied on."""

    term: str
    field: str  # "title" | "text" | "author"
    start: int  # character offset in that field
    end: int


@dataclass(frozen=True)
class Hit:
    """A rule that fired on an item, with the reason a person needs to judge it."""

    rule_id: str
    category: str
    grade: str  # 一般 | 重大
    terms: tuple[TermMatch, ...]
    snippet: str

    @property
    def matched_terms(self) -> list[str]:
        return sorted({t.term for t in self.terms})


@dataclass
class RunStats:
    """What one run of one source did; stored in the patrol ledger."""

    fetched: int = 0
    failed: int = 0
    items: int = 0
    new_items: int = 0
    hits: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AlertPayload:
    """Everything a notifier needs to tell a person about one alert; no database objects."""

    alert_id: int
    idempotency_key: str  # stable per alert: the receiver can recognise a resend
    grade: str
    category: str
    rule_id: str
    matched_terms: tuple[str, ...]
    snippet: str
    url: str
    title: str
    source_id: str
    source_name: str
    found_at: datetime  # aware, UTC
    published_at: datetime | None = None
    author: str | None = None


@dataclass(frozen=True)
class NoticePayload:
    """A note about the monitoring itself (a source went down or came back), sent like an alert."""

    notice_id: int
    idempotency_key: str
    kind: str  # source_down | source_up
    source_id: str
    source_name: str
    message: str
    url: str
    found_at: datetime  # aware, UTC: when the run that changed the source's health finished

    grade = "一般"  # channel grade filters treat notices as ordinary news (crawler.health.NOTICE_GRADE)


Payload = AlertPayload | NoticePayload


class DeliveryError(Exception):
    """A channel could not take the alert now; the outbox retries later."""
