"""Parse workers: the same items as on the loop, a crashing page fails alone, workers start under
load and stop when idle, and none outlives a daemon killed with kill -9."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler import parsing
from crawler.adapters import ParseError, adapter_for
from crawler.config.sources import SourceSpec
from crawler.parsing import Parser
from crawler.types import FetchResult

DATA = Path(__file__).resolve().parent.parent / "data"
ROOT = Path(__file__).resolve().parents[2]


def page(path: str, url: str, encoding: str = "utf-8") -> FetchResult:
    raw = (DATA / path).read_bytes()
    return FetchResult(url=url, final_url=url, status=200, headers=(), body=raw, text=raw.decode(encoding, "replace"),
                       encoding=encoding, fetched_at=datetime(2026, 11, 29, 4, 0, tzinfo=UTC), elapsed_ms=1)


async def started(parser: Parser, count: int) -> list[int]:
    """The workers' pids once ``count`` are up (they start in the background, one by one)."""
    for _ in range(600):
        if len(pids := parser.pids()) == count:
            return pids
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} workers did not start: {parser.pids()}")


CASES = [  # (adapter method, page, source): one of each kind of page the adapters read
    ("read_detail", page("news/magic_html/sohu_e75180020469.html", "http://127.0.0.1/a.html"),
     SourceSpec(id="news", type="news", url="http://127.0.0.1/")),
    ("read_detail", page("tieba/feelwing_thread_raw_2014_nba.html", "https://tieba.baidu.com/p/3124958012"),
     SourceSpec(id="tieba", type="tieba", forum="nba")),  # type: ignore[call-arg]
    ("read_detail", page("discuz/x2_viewthread_gbk.html", "http://127.0.0.1/thread-1-1-1.html", "gb18030"),
     SourceSpec(id="bbs", type="discuz", url="http://127.0.0.1/forum-2-1.html")),
    ("parse_list", page("rss/rodel_meituan_rss.xml", "http://127.0.0.1/rss.xml"),
     SourceSpec(id="feed", type="rss", url="http://127.0.0.1/rss.xml")),
]


async def test_workers_read_every_kind_of_page_as_the_loop_does() -> None:
    parser = Parser(workers=2)
    try:
        assert await parser(os.getpid) != os.getpid()  # the work is done elsewhere
        for method, result, source in CASES:
            call = getattr(adapter_for(source.type), method)
            in_worker = await parser(call, result, source)
            on_loop = call(result, source)
            assert in_worker == on_loop and on_loop.items, (source.type, method)
        assert parser.running and len(await started(parser, 2)) == 2
    finally:
        await parser.close()
    assert not parser.running


async def test_an_adapter_error_comes_back_with_its_reason() -> None:
    source = SourceSpec(id="news", type="news", url="http://127.0.0.1/", text_selector="div.no-such-thing")
    parser = Parser(workers=1)
    try:
        with pytest.raises(ParseError, match="text_selector 'div.no-such-thing'"):
            await parser(adapter_for("news").read_detail, CASES[0][1], source)
        assert await parser(len, "三个字") == 3  # the worker is still there
    finally:
        await parser.close()


async def test_a_page_that_kills_its_worker_fails_alone() -> None:
    """The next calls, and the ones running beside it, are served; the page fails with a reason."""
    parser = Parser(workers=2)
    try:
        await parser(os.getpid)  # the workers start with the first call
        first = set(await started(parser, 2))
        crash, *others = await asyncio.gather(parser(os._exit, 7), *(parser(time.sleep, 0.2) for _ in range(3)),
                                              return_exceptions=True)
        assert isinstance(crash, ParseError) and "解析进程异常退出" in crash.reason
        assert others == [None, None, None]
        assert await parser(len, "abc") == 3
        now = set(await started(parser, 2))  # two deaths (the page, and its second try), each replaced
        assert len(now) == 2 and first - now and all(Path(f"/proc/{pid}").exists() for pid in now)
    finally:
        await parser.close()


async def test_a_page_parsed_too_long_is_given_up_and_its_worker_replaced() -> None:
    parser = Parser(workers=1, timeout_s=0.5)
    try:
        stuck = await parser(os.getpid)
        started = time.monotonic()
        with pytest.raises(ParseError, match="解析超过 0.5 秒"):
            await parser(time.sleep, 30)
        assert time.monotonic() - started < 10
        assert await parser(os.getpid) != stuck  # a fresh worker; the stuck one was killed
        deadline = time.monotonic() + 5
        while Path(f"/proc/{stuck}").exists() and "zombie" not in Path(f"/proc/{stuck}/status").read_text() \
                and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not Path(f"/proc/{stuck}").exists() or "zombie" in Path(f"/proc/{stuck}/status").read_text()
    finally:
        await parser.close()


async def test_auto_starts_workers_while_parsing_keeps_the_loop_busy_and_stops_them_when_idle(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parsing, "_available_cpus", lambda: 2)  # the decision, not this machine's size
    parser = Parser("auto", busy_share=0.2, window_s=1.0, idle_s=0.6)
    assert parser.size == 2
    try:
        on_loop = 0
        while await parser(os.getpid) == os.getpid():  # 0.2 s of parsing in the last second starts them
            assert not parser.running
            await parser(sum, range(300_000))
            on_loop += 1
            assert on_loop < 1000
        assert on_loop >= 2 and parser.running
        pids = await started(parser, 2)
        await asyncio.sleep(1.5)  # idle: stopped, their processes gone
        assert not parser.running and parser.pids() == []
        assert not any(Path(f"/proc/{pid}").exists() for pid in pids)
        assert await parser(os.getpid) == os.getpid()  # and parsing goes on, on the loop
    finally:
        await parser.close()
    assert Parser("auto").size == 2
    monkeypatch.setattr(parsing, "_available_cpus", lambda: 1)
    assert Parser("auto").size == 0  # one CPU: workers would only take turns with the loop


async def test_ready_holds_new_pages_while_the_parser_is_behind() -> None:
    parser = Parser(workers=1)
    try:
        behind = [asyncio.create_task(parser(time.sleep, 0.05)) for _ in range(parsing.BACKLOG)]
        await asyncio.sleep(0)
        waiting = asyncio.create_task(parser.ready())
        await asyncio.sleep(0.02)
        assert not waiting.done()
        await asyncio.wait_for(waiting, 10)
        assert sum(task.done() for task in behind) >= 1
        await asyncio.gather(*behind)
    finally:
        await parser.close()


def test_workers_end_with_a_daemon_killed_with_kill_9(tmp_path: Path) -> None:
    script = tmp_path / "daemon.py"
    script.write_text(textwrap.dedent("""\
        import asyncio, os
        from crawler.parsing import Parser

        async def main() -> None:
            parser = Parser(workers=2)
            await parser(os.getpid)
            while len(parser.pids()) < 2:
                await asyncio.sleep(0.05)
            print(*parser.pids(), flush=True)
            await asyncio.sleep(60)

        asyncio.run(main())
        """), encoding="utf-8")
    daemon = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert daemon.stdout is not None
        pids = [int(pid) for pid in daemon.stdout.readline().split()]
        assert len(pids) == 2 and all(Path(f"/proc/{pid}").exists() for pid in pids)
    finally:
        daemon.send_signal(signal.SIGKILL)
        daemon.wait()
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)
