"""The daemon's memory: how much of what the C allocator holds goes back to the system.

Two settings, measured with ``bench/sources.py`` (``docs/benchmarks.md``, many sources):

* **at most two malloc arenas** (glibc's ``M_ARENA_MAX``). glibc gives each thread that allocates
  an arena of its own, up to eight per core, and keeps freed memory in each; the database driver
  runs every SQLite connection in a thread (aiosqlite), so a patrol of many sources spread its
  garbage over up to 15 arenas. Two took 8 MB off the steady state with 1,000 sources, without a
  measurable cost in CPU. ``MALLOC_ARENA_MAX`` in the environment, when set, wins.
* **the heap trimmed after start-up** (2 MB: compiling the rules leaves garbage behind) **and, in
  ``yuqing run``, every 10 s**: a patrol of 1,000 sources left 6 MB of freed heap that glibc kept
  (it returns only the top of its heap by itself; ``malloc_trim`` also the free pages inside).

Both do nothing where the C library is not glibc (musl, macOS).
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import os

M_ARENA_MAX = -8  # glibc's mallopt parameter number
ARENAS = 2
TRIM_EVERY_S = 10.0


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 - glibc has both
    except (OSError, AttributeError):
        return None
    return libc


def cap_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's arenas (call before threads start); False when not glibc or the environment decides."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    libc = _glibc()
    return libc is not None and libc.mallopt(M_ARENA_MAX, arenas) == 1


def release_freed_memory() -> bool:
    """Collect unreachable objects and hand the freed heap back to the system; False when not glibc."""
    gc.collect()
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


async def keep_trimmed(stop: asyncio.Event, every_s: float = TRIM_EVERY_S) -> None:
    """Hand the freed heap back every ``every_s`` seconds until ``stop`` is set (a daemon service)."""
    libc = _glibc()
    if libc is None:
        return
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), every_s)
        except TimeoutError:
            libc.malloc_trim(0)  # a few ms on the loop: the heap is walked once
