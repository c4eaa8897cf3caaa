"""Request headers: what we send, and what we may keep as evidence.

Policy settings read: ``user_agent``, ``headers``, ``cookie``.
"""

from __future__ import annotations

from collections.abc import Iterable

from multidict import CIMultiDict

from crawler.types import FetchPolicy, Validators

_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
_ACCEPT_LANGUAGE = "zh-CN,zh;q=0.9,en;q=0.6"
# Headers that carry credentials: never sent to another host after a redirect, never stored.
_SECRETS = frozenset({"cookie", "authorization", "proxy-authorization"})
REDACTED = "<redacted>"


def request_headers(policy: FetchPolicy, validators: Validators | None, *, with_secrets: bool) -> CIMultiDict[str]:
    """Headers for one request; ``with_secrets`` is False once a redirect has left the first host.

    Accept-Encoding is left to aiohttp: it offers exactly the codings it can decode (``br`` only
    when a Brotli package is installed).
    """
    headers: CIMultiDict[str] = CIMultiDict(
        {"User-Agent": policy.user_agent, "Accept": _ACCEPT, "Accept-Language": _ACCEPT_LANGUAGE}
    )
    for name, value in policy.headers:
        headers[name] = value
    if policy.cookie:
        headers["Cookie"] = policy.cookie
    if validators is not None:
        if validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
    if not with_secrets:
        for name in _SECRETS:
            headers.popall(name, None)
    return headers


def redacted(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The headers as sent, credential values replaced: the result is stored as evidence."""
    return tuple((name, REDACTED if name.lower() in _SECRETS else value) for name, value in headers)
