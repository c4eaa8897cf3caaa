"""Per-host politeness: how many requests run at once against one host, and how far apart they start.

Policy settings read: ``per_host``, ``delay_s`` (passed in by the caller for each request).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class _HostState:
    active: int = 0
    next_start: float = 0.0  # event-loop time before which no new request may start
    released: asyncio.Event = field(default_factory=asyncio.Event)


class HostGate:
    """Concurrency limit and start spacing per host name, shared by every fetch of one Fetcher.

    The limit and the delay are the caller's own, not fixed per host, so two sources on the same
    host each keep their configured values. Releasing is synchronous (no lock to acquire in a
    ``finally``), so a cancelled fetch can never leak a slot.
    """

    def __init__(self) -> None:
        self._hosts: dict[str, _HostState] = {}

    @asynccontextmanager
    async def slot(self, host: str, limit: int, delay_s: float) -> AsyncIterator[None]:
        """Hold one of ``limit`` slots for ``host``, starting at least ``delay_s`` after the last start."""
        state = self._hosts.setdefault(host, _HostState())
        while state.active >= max(1, limit):
            await state.released.wait()
        state.active += 1
        try:
            now = asyncio.get_running_loop().time()
            start = max(now, state.next_start)
            state.next_start = start + delay_s  # reserved before sleeping: later callers queue behind
            await asyncio.sleep(start - now)
            yield
        finally:
            state.active -= 1
            state.released.set()  # wakes every waiter; each re-checks the count
            state.released = asyncio.Event()
