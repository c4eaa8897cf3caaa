"""robots.txt rules, fetched once per origin and kept for a while (per Fetcher instance).

Policy settings read: ``user_agent`` (the group of rules that applies). The caller decides from
``obey_robots`` whether to ask at all.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from protego import Protego
from yarl import URL

from crawler.types import FetchPolicy

# Loads the text of a robots.txt URL; None when there is none to obey (missing, error, unreachable).
RobotsLoader = Callable[[str, FetchPolicy], Awaitable[str | None]]


class RobotsCache:
    """Answers "may this URL be fetched?" from a cached robots.txt per scheme://host:port."""

    def __init__(self, load: RobotsLoader, ttl_s: float = 3600.0) -> None:
        self._load = load
        self._ttl_s = ttl_s
        self._rules: dict[str, tuple[float, Protego]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def allowed(self, url: URL, policy: FetchPolicy) -> bool:
        """True unless the origin's robots.txt disallows ``url`` for the policy's user agent.

        A missing robots.txt (404) allows everything, as the standard says. A server error or an
        unreachable robots.txt also allows everything here (RFC 9309 would assume "disallow all"
        on a 5xx): the patrol windows are mandated, and a page that really fails is reported by
        the page fetch itself. Either outcome is cached for the TTL like a real file.
        """
        origin = str(url.origin())
        async with self._locks.setdefault(origin, asyncio.Lock()):  # one load per origin at a time
            cached = self._rules.get(origin)
            if cached is None or time.monotonic() - cached[0] > self._ttl_s:
                text = await self._load(f"{origin}/robots.txt", policy)
                cached = (time.monotonic(), Protego.parse(text or ""))
                self._rules[origin] = cached
        return bool(cached[1].can_fetch(str(url), policy.user_agent))
