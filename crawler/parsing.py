"""Where pages are parsed: on the event loop, or in worker processes while parsing keeps it busy.

Parsing is CPU work (the extractor walks every element of a 100 KB news page in Python: 10–20 ms),
and the event loop also fetches, matches and stores. A big patrol (a window opening on many
sources, ``crawl --once``) was bound by the parser on one core while the others idled
(``bench/crawl.py``). So, by default (``parse_workers: auto``), pages are parsed on the loop until
parsing has taken half of it over the last seconds; then worker processes (one per CPU, at most
four) take over, and they stop after a minute without work, so that a daemon patrolling a few
sources does not keep their memory. Adapters are pure functions of the page, which makes this
safe: the same call gives the same items in a worker.

A worker is ``python -m crawler.parsing``: one call at a time, pickled over its stdin and stdout.
Plain pipes rather than ``multiprocessing``: a worker ends at end of input, so none outlives a
daemon killed with ``kill -9`` (``multiprocessing``'s pool workers and forkserver did), and none
re-imports the daemon's main module. A worker that dies (a hostile page crashing the HTML
library, the OOM killer) takes down its page, not the daemon: the page is tried once more in a
fresh worker, then fails with a reason like any unparsable page.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import pickle
import signal
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Literal, TypeVar

from crawler.adapters import ParseError

log = logging.getLogger("yuqing.parse")

T = TypeVar("T")

MAX_AUTO_WORKERS = 4
# Parsing on the loop for this share of the last WINDOW_S seconds starts the workers.
BUSY_SHARE = 0.5
WINDOW_S = 10.0
IDLE_S = 60.0  # workers without a page for this long are stopped
# A page still being parsed in a worker after this long is given up and its worker killed (on the
# loop a parse cannot be interrupted: another reason hostile pages are better parsed in workers).
TIMEOUT_S = 60.0
START_S = 60.0  # for a worker's imports, on a machine that may be very busy
# Pages fetched and not yet parsed, beyond which no new fetch starts (``ready``): fetching
# outpaces parsing on a fast site, and every page waiting holds its body and text in memory
# (measured: 873 MB for 3,000 loopback pages without this bound).
BACKLOG = 32
_HEADER = 8  # bytes of a message's length, big-endian
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Linux
_PIPE_BYTES = 1 << 20

Workers = int | Literal["auto"]


class _WorkerDied(Exception):
    """The worker's pipes closed in the middle of a call."""


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(_HEADER, "big") + payload


class _Worker:
    """One worker process and its pipes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls) -> _Worker:
        # The worker imports this checkout's code, whichever way the daemon found it.
        root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "crawler.parsing", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            env=env)
        pipe = process.stdin.get_extra_info("pipe") if process.stdin is not None else None
        if pipe is not None:
            try:  # a page in one write (the default 64 KB pipe took four, each a loop turn)
                fcntl.fcntl(pipe.fileno(), _F_SETPIPE_SZ, _PIPE_BYTES)
            except OSError:  # above the system's pipe-max-size: smaller writes, same result
                pass
        worker = cls(process)
        try:  # its imports done, it says so with an empty message: a call's time-out is parse time only
            assert process.stdout is not None
            await asyncio.wait_for(process.stdout.readexactly(_HEADER), START_S)
        except (asyncio.IncompleteReadError, TimeoutError):
            worker.kill()
            await process.wait()
            raise OSError(f"解析进程未能启动 (parse worker did not start, exit code {process.returncode})") from None
        return worker

    async def call(self, fn: Callable[..., object], args: tuple[object, ...]) -> tuple[bool, object]:
        """``(True, result)``, or ``(False, exception)`` when ``fn`` raised in the worker."""
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(_frame(pickle.dumps((fn, args), pickle.HIGHEST_PROTOCOL)))
            await stdin.drain()
            size = int.from_bytes(await stdout.readexactly(_HEADER), "big")
            reply: tuple[bool, object] = pickle.loads(await stdout.readexactly(size))
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise _WorkerDied() from exc
        return reply

    def kill(self) -> None:
        if self.process.returncode is None:
            try:
                self.process.kill()
            except ProcessLookupError:
                pass

    async def stop(self) -> None:
        """End of input ends the worker; one that does not within seconds is killed."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 5.0)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


class Parser:
    """Runs an adapter's parse call, on the loop or in the workers (see the module's docstring).

    ``workers``: 0 parses on the loop only; N > 0 uses N workers from the first page; ``"auto"``
    starts them when parsing keeps the loop busy, if the machine has more than one CPU.
    """

    def __init__(self, workers: Workers = "auto", *, busy_share: float = BUSY_SHARE, window_s: float = WINDOW_S,
                 idle_s: float = IDLE_S, timeout_s: float = TIMEOUT_S) -> None:
        cpus = _available_cpus()
        self.auto = workers == "auto"
        self.size = (min(cpus, MAX_AUTO_WORKERS) if cpus > 1 else 0) if workers == "auto" else int(workers)
        self.busy_share, self.window_s, self.idle_s, self.timeout_s = busy_share, window_s, idle_s, timeout_s
        self._slot: asyncio.Lock | None = None
        self._recent: deque[tuple[float, float]] = deque()  # (end, seconds) of parses on the loop
        # set while the workers are up; None in it tells a waiting call that they stopped
        self._idle: asyncio.Queue[_Worker | None] | None = None
        self._workers: set[_Worker] = set()
        self._busy = 0
        self._last_use = 0.0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # starting or stopping workers: kept from the GC
        self._backlog = 0  # calls waiting or running
        self._drained: asyncio.Condition | None = None

    @property
    def running(self) -> bool:
        """Whether the workers are up."""
        return self._idle is not None

    def pids(self) -> list[int]:
        return sorted(w.process.pid for w in self._workers)

    async def ready(self) -> None:
        """Wait until fewer than ``BACKLOG`` pages wait for their parse: call before fetching one."""
        if self._backlog < BACKLOG:
            return
        if self._drained is None:
            self._drained = asyncio.Condition()
        async with self._drained:
            await self._drained.wait_for(lambda: self._backlog < BACKLOG)

    async def __call__(self, fn: Callable[..., T], *args: object) -> T:
        self._backlog += 1
        try:
            if self._idle is None and self.size and (not self.auto or self._loop_busy()):
                self._start()
            if self._idle is not None:
                return await self._in_worker(self._idle, fn, args)
            return await self._on_loop(fn, args)
        finally:
            self._backlog -= 1
            if self._drained is not None and self._backlog < BACKLOG:
                async with self._drained:
                    self._drained.notify()

    async def _on_loop(self, fn: Callable[..., T], args: tuple[object, ...]) -> T:
        """One page at a time, each after a turn of the loop.

        Without the lock, every page whose body arrived in the same turn was parsed back to back,
        and each database round trip, body read and timeout waited for the whole pile: the
        writer's transaction, a dozen round trips, took seconds while pages queued in memory
        behind it. With it, a waiting task resumes one turn after the previous parse.
        """
        if self._slot is None:
            self._slot = asyncio.Lock()
        async with self._slot:
            started = time.perf_counter()
            try:
                return fn(*args)
            finally:
                ended = time.perf_counter()
                self._recent.append((ended, ended - started))

    def _loop_busy(self) -> bool:
        now = time.perf_counter()
        while self._recent and self._recent[0][0] < now - self.window_s:
            self._recent.popleft()
        return sum(seconds for _, seconds in self._recent) >= self.busy_share * self.window_s

    def _start(self) -> None:
        idle: asyncio.Queue[_Worker | None] = asyncio.Queue()
        self._idle = idle
        self._recent.clear()
        self._last_use = time.perf_counter()
        for _ in range(self.size):
            self._spawn(idle)
        log.info("parse workers starting workers=%d", self.size)
        if self.auto:
            self._idle_timer = asyncio.get_running_loop().call_later(self.idle_s / 2, self._idle_check)

    def _spawn(self, idle: asyncio.Queue[_Worker | None]) -> None:
        """A worker into ``idle`` (in the background: calls wait on the queue meanwhile)."""
        async def start() -> None:
            try:
                worker = await _Worker.start()
            except OSError as exc:  # no processes left: parse on the loop, as with 0 workers
                log.error("parse worker could not start: %s", exc)
                if self._idle is idle:
                    await self.close()
                return
            if self._idle is idle:
                self._workers.add(worker)
                idle.put_nowait(worker)
            else:
                await worker.stop()

        self._background(start())

    async def _in_worker(self, idle: asyncio.Queue[_Worker | None], fn: Callable[..., T],
                         args: tuple[object, ...]) -> T:
        self._busy += 1
        try:
            for attempt in (1, 2):
                worker = await idle.get()
                if worker is None:  # the workers stopped (or could not start) while this call waited
                    idle.put_nowait(None)  # for the next one waiting
                    return await self._on_loop(fn, args)
                try:
                    ok, value = await asyncio.wait_for(worker.call(fn, args), self.timeout_s)
                except _WorkerDied:
                    self._discard(worker, idle)
                    log.warning("parse worker died code=%s attempt=%d", await worker.process.wait(), attempt)
                    continue
                except TimeoutError:
                    self._discard(worker, idle)
                    raise ParseError(f"解析超过 {self.timeout_s:g} 秒，已放弃 (parse timed out)") from None
                except BaseException:  # cancelled mid-call: its reply would be read by the next call
                    self._discard(worker, idle)
                    raise
                idle.put_nowait(worker)
                if ok:
                    return value  # type: ignore[return-value]
                raise value  # type: ignore[misc]
            raise ParseError("解析进程异常退出，页面可能有害 (the parser process died on this page twice)")
        finally:
            self._busy -= 1
            self._last_use = time.perf_counter()

    def _discard(self, worker: _Worker, idle: asyncio.Queue[_Worker | None]) -> None:
        """Kill ``worker`` and start its replacement."""
        worker.kill()
        self._workers.discard(worker)
        if self._idle is idle:
            self._spawn(idle)

    def _idle_check(self) -> None:
        if self._idle is None:
            return
        loop = asyncio.get_running_loop()
        if self._busy == 0 and time.perf_counter() - self._last_use >= self.idle_s:
            log.info("parse workers stopping reason=idle")
            self._background(self.close())
        else:
            self._idle_timer = loop.call_later(self.idle_s / 2, self._idle_check)

    def _background(self, job: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Stop the workers; calls still waiting for one parse on the loop instead."""
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self._idle is not None:
            self._idle.put_nowait(None)
            self._idle = None
        workers, self._workers = self._workers, set()
        # Workers still starting stop themselves once started; wait for them rather than leave
        # them to the loop's shutdown: cancelling a subprocess being created can hang it (3.11).
        starting = [task for task in self._tasks if task is not asyncio.current_task()]
        await asyncio.gather(*(worker.stop() for worker in workers), *starting, return_exceptions=True)


def _serve() -> None:
    """The worker's side: answer calls until end of input."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the daemon, which stops its workers
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the replies
    replies.write(_frame(b""))  # ready
    replies.flush()
    while len(header := requests.read(_HEADER)) == _HEADER:
        fn, args = pickle.loads(requests.read(int.from_bytes(header, "big")))
        try:
            reply = (True, fn(*args))
        except Exception as exc:  # noqa: BLE001 - raised again in the daemon, as on the loop
            if not isinstance(exc, ParseError):
                traceback.print_exc()  # a bug: its traceback goes to the daemon's log
            reply = (False, exc)
        try:
            payload = pickle.dumps(reply, pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - an unpicklable exception: its text goes instead
            payload = pickle.dumps((False, RuntimeError(f"{type(reply[1]).__name__}: {reply[1]}; {exc}")))
        replies.write(_frame(payload))
        replies.flush()


if __name__ == "__main__":
    _serve()
