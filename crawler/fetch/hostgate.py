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
    last_start: float = float("-inf")  # when the last request really started
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
            loop = asyncio.get_running_loop()
            now = loop.time()
            start = max(now, state.next_start)
            state.next_start = start + delay_s  # reserved before sleeping: later callers queue behind
            await asyncio.sleep(start - now)
            # A busy loop (parsing) wakes sleepers late, so the previous request may have gone out
            # later than reserved: keep the delay from its real start too, never a burst.
            while (late_s := state.last_start + delay_s - loop.time()) > 0:
                await asyncio.sleep(late_s)
            state.last_start = loop.time()
            state.next_start = max(state.next_start, state.last_start + delay_s)
            yield
        finally:
            state.active -= 1
            state.released.set()  # wakes every waiter; each re-checks the count
            state.released = asyncio.Event()
