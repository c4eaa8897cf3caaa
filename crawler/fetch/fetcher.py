"""The HTTP fetcher: polite, bounded, and unable to reach private networks unless told to.

Policy settings read (``crawler.types.FetchPolicy``): ``user_agent``, ``headers``, ``cookie``;
``connect_timeout_s``, ``read_timeout_s``, ``total_timeout_s`` (each per attempt);
``max_body_bytes``; ``max_redirects``; ``retries``, ``backoff_s``; ``obey_robots``;
``allow_private_networks``; ``encoding``; ``per_host``, ``delay_s``.

Expected failures raise ``FetchError`` with a short Chinese + English reason; no aiohttp
exception leaves this module.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from crawler.fetch.charset import decode_body
from crawler.fetch.headers import redacted, request_headers
from crawler.fetch.hostgate import HostGate
from crawler.fetch.netguard import Allowed, GuardedResolver, GuardRefusal, check_url
from crawler.fetch.retry import RETRY_AFTER_MAX_S, backoff_s, retry_after_s
from crawler.fetch.robots import RobotsCache
from crawler.types import FetchError, FetchPolicy, FetchResult, Validators

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_CHUNK_BYTES = 64 * 1024
_ROBOTS_MAX_BYTES = 512 * 1024  # larger robots.txt files are treated as missing (Google reads 500 KiB)


class _Retryable(Exception):
    """A failure another attempt may cure: a timeout or a broken connection."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Answer:
    """One HTTP exchange of one hop, body read in full (within the limit)."""

    url: URL
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    request_headers: tuple[tuple[str, str], ...]


async def _read_capped(url: str, resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The decompressed body, refused as soon as it passes ``limit`` (so a gzip bomb costs ~limit)."""
    too_large = FetchError(url, f"响应过大 body larger than {limit} bytes")
    if resp.content_length is not None and resp.content_length > limit:
        raise too_large
    body = bytearray()
    async for chunk in resp.content.iter_chunked(_CHUNK_BYTES):
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def _connect_failure(url: str, exc: aiohttp.ClientConnectorError) -> Exception:
    """Map a failed connect to our refusal (no retry), a certificate error (no retry) or a retryable one."""
    if isinstance(exc.os_error, GuardRefusal):
        return FetchError(url, exc.os_error.reason)
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return FetchError(url, "证书无效 TLS certificate rejected")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return _Retryable("域名解析失败 DNS lookup failed")
    return _Retryable(f"连接失败 connection failed: {exc.os_error.strerror or exc.os_error}")


def _result(url: str, answer: _Answer, policy: FetchPolicy, fetched_at: datetime, started: float) -> FetchResult:
    """The FetchResult of the last hop; only a 2xx or a 304 is a result, the rest a FetchError."""
    if answer.status != 304 and not 200 <= answer.status < 300:
        raise FetchError(url, f"HTTP {answer.status}")
    text, encoding = decode_body(answer.body, answer.headers.get("Content-Type"), policy.encoding)
    return FetchResult(
        url=url,
        final_url=str(answer.url),
        status=answer.status,
        headers=tuple(answer.headers.items()),
        body=answer.body,
        text=text,
        encoding=encoding,
        fetched_at=fetched_at,
        elapsed_ms=int((time.monotonic() - started) * 1000),
        request_headers=answer.request_headers,
        not_modified=answer.status == 304,
    )


class Fetcher:
    """Fetches URLs for every source of the daemon; one instance, shared, closed at shutdown.

    Per-host politeness and the robots.txt cache live in the instance, so all sources share them.
    """

    def __init__(self, robots_ttl_s: float = 3600.0) -> None:
        # One pool per value of allow_private_networks: each pool's resolver enforces one fixed
        # rule, and a connection opened for a source allowed on private networks is never reused
        # by one that is not.
        self._sessions: dict[Allowed, aiohttp.ClientSession] = {}
        self._gate = HostGate()
        self._robots = RobotsCache(self._load_robots_txt, ttl_s=robots_ttl_s)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection pools; a later fetch opens new ones."""
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()

    async def fetch(self, url: str, policy: FetchPolicy, validators: Validators | None = None) -> FetchResult:
        """GET ``url`` under ``policy``; a 304 to the conditional GET comes back as ``not_modified``.

        Raises ``FetchError`` for anything but a 2xx or a 304 after redirects and retries.
        """
        started = time.monotonic()
        fetched_at = datetime.now(UTC)
        try:
            target = URL(url)
        except (TypeError, ValueError):
            raise FetchError(url, "无效网址 invalid URL") from None
        first = target
        for _ in range(policy.max_redirects + 1):
            # Credentials stay with the first host, and never drop from https to plain http.
            with_secrets = target.host == first.host and (target.scheme == "https" or first.scheme == "http")
            headers = request_headers(policy, validators, with_secrets=with_secrets)
            answer = await self._hop(url, target, policy, headers)
            location = answer.headers.get("Location")
            if answer.status not in _REDIRECTS or not location:
                return _result(url, answer, policy, fetched_at, started)
            try:
                target = target.join(URL(location)).with_fragment(None)
            except (TypeError, ValueError):
                raise FetchError(url, "重定向地址无效 invalid redirect Location") from None
        raise FetchError(url, f"重定向过多 too many redirects (more than {policy.max_redirects})")

    async def _hop(self, url: str, target: URL, policy: FetchPolicy, headers: CIMultiDict[str]) -> _Answer:
        """One URL of the redirect chain: guard, robots.txt, then attempts with retries."""
        try:
            check_url(target, allow_private_networks=policy.allow_private_networks)
        except GuardRefusal as exc:
            raise FetchError(url, exc.reason) from None
        if policy.obey_robots and not await self._robots.allowed(target, policy):
            raise FetchError(url, "robots.txt 禁止 disallowed by robots.txt")
        attempt = 0
        while True:
            wait_s = backoff_s(policy, attempt)
            try:
                answer = await self._attempt(url, target, policy, headers)
            except _Retryable as exc:
                failure = exc.reason
            else:
                if answer.status < 500 and answer.status != 429:
                    return answer
                failure = f"HTTP {answer.status}"
                if answer.status in _RETRY_AFTER_STATUSES:
                    asked_s = retry_after_s(answer.headers.get("Retry-After"), datetime.now(UTC))
                    if asked_s is not None and asked_s > RETRY_AFTER_MAX_S:
                        raise FetchError(url, f"HTTP {answer.status} 要求 {asked_s:.0f} 秒后再试 Retry-After too long")
                    if asked_s is not None:
                        wait_s = asked_s
            if attempt >= policy.retries:
                raise FetchError(url, failure)
            attempt += 1
            await asyncio.sleep(wait_s)

    async def _attempt(self, url: str, target: URL, policy: FetchPolicy, headers: CIMultiDict[str]) -> _Answer:
        """A single request, inside the host's politeness slot; the body is read before the slot is freed."""
        timeout = aiohttp.ClientTimeout(
            total=policy.total_timeout_s, connect=policy.connect_timeout_s, sock_read=policy.read_timeout_s
        )
        session = self._session(policy.allow_private_networks)
        async with self._gate.slot(target.host or "", policy.per_host, policy.delay_s):
            try:
                async with session.get(target, headers=headers, allow_redirects=False, timeout=timeout) as resp:
                    body = await _read_capped(url, resp, policy.max_body_bytes)
                    return _Answer(
                        url=target,
                        status=resp.status,
                        headers=resp.headers,
                        body=body,
                        request_headers=redacted(resp.request_info.headers.items()),
                    )
            except TimeoutError:
                raise _Retryable("超时 timeout") from None
            except aiohttp.ClientConnectorError as exc:
                raise _connect_failure(url, exc) from None
            except aiohttp.InvalidURL:
                raise FetchError(url, "无效网址 invalid URL") from None
            except ValueError:  # aiohttp refuses control characters in header values (header injection)
                raise FetchError(url, "请求头无效 invalid request header") from None
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError) as exc:
                raise _Retryable(f"连接中断 connection broken: {type(exc).__name__}") from None
            except aiohttp.ClientError as exc:
                raise FetchError(url, f"响应无效 bad response: {type(exc).__name__}") from None

    def _session(self, allow_private_networks: Allowed) -> aiohttp.ClientSession:
        """The pool for this guard setting, created on first use (it needs a running loop)."""
        session = self._sessions.get(allow_private_networks)
        if session is None:
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(allow_private_networks=allow_private_networks),
                use_dns_cache=False,  # every new connection is resolved, and so checked, afresh
            )
            # No cookie jar: a Set-Cookie from one source must never travel with another's requests;
            # the only cookie sent is the policy's own.
            session = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())
            self._sessions[allow_private_networks] = session
        return session

    async def _load_robots_txt(self, robots_url: str, policy: FetchPolicy) -> str | None:
        """robots.txt through the same guard, politeness and limits; None when there is none to obey."""
        robots_policy = replace(
            policy,
            obey_robots=False,
            encoding="utf-8",  # RFC 9309: robots.txt is UTF-8
            max_body_bytes=min(policy.max_body_bytes, _ROBOTS_MAX_BYTES),
        )
        try:
            return (await self.fetch(robots_url, robots_policy)).text
        except FetchError:
            return None
