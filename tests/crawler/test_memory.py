"""The daemon's memory: the crawl path leaves the report, desk and migration libraries unimported,
and the allocator settings apply (``crawler/memory.py``; figures in docs/benchmarks.md)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_site import serve_site, write_config

from crawler import memory

# Imported only on the paths that need them: reports and forms (python-docx, lxml, openpyxl,
# matplotlib), the web desk (jinja2), a schema behind (alembic, mako), the browser (playwright);
# pkg_resources only ever came with jieba.
NOT_ON_THE_CRAWL_PATH = ("docx", "lxml", "openpyxl", "matplotlib", "jinja2", "aiohttp_jinja2", "alembic", "mako",
                         "pkg_resources", "playwright")
SHOW_MODULES = ("import atexit, json, sys\n"
                "def show(): print('MODULES ' + json.dumps(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)\n"
                "atexit.register(show)\n"
                "from crawler.cli import app\n"
                "app(sys.argv[1:], prog_name='yuqing')")


def yuqing_modules(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """``yuqing ARGS`` in a fresh process, and the top-level packages it had imported when it ended."""
    proc = subprocess.run([sys.executable, "-c", SHOW_MODULES, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "200"}, cwd=Path(__file__).parents[2])
    lines = [line for line in proc.stderr.splitlines() if line.startswith("MODULES ")]
    assert lines, proc.stderr[-2000:]
    return proc, set(json.loads(lines[-1][len("MODULES "):]))


async def test_crawl_once_imports_no_report_desk_or_migration_library(servers, tmp_path: Path) -> None:
    site, smtp, hook = servers
    serve_site(site, ["/news/4.html"])
    write_config(tmp_path / "config", site, smtp, hook)
    common = ("--config", str(tmp_path / "config"), "--data", str(tmp_path / "data"))
    first, modules = yuqing_modules(*common, "db", "upgrade")
    assert first.returncode == 0, first.stderr[-2000:]
    assert "alembic" in modules  # a new database is migrated by Alembic, as before
    # in a thread: the loopback site answers on this test's event loop
    crawl, modules = await asyncio.to_thread(yuqing_modules, *common, "crawl", "--once")
    assert crawl.returncode == 0, crawl.stderr[-2000:]
    assert "county-news" in crawl.stdout and "ok" in crawl.stdout
    assert {"jieba", "aiohttp", "sqlalchemy", "feedparser"} <= modules  # the crawl did run
    assert modules.isdisjoint(NOT_ON_THE_CRAWL_PATH), sorted(modules.intersection(NOT_ON_THE_CRAWL_PATH))


def test_arenas_capped_on_glibc_unless_the_environment_says(monkeypatch: pytest.MonkeyPatch) -> None:
    assert memory._glibc() is not None  # the CI image and this machine are Debian: glibc
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert memory.cap_malloc_arenas() is True
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert memory.cap_malloc_arenas() is False


FRAGMENT_HEAP = """
import asyncio, os, sys
sys.path.insert(0, '.')
from crawler import memory
def rss(): return int(open(f'/proc/{os.getpid()}/statm').read().split()[1]) * 4096 / 2**20
keep = [bytearray(600) for _ in range(200_000)]  # malloc'd: over pymalloc's 512 bytes
keep = keep[::50] + keep[-1:]  # ~115 MB freed in the middle of the heap, the top pinned
before = rss()
"""


def freed_by(call: str) -> float:
    """MB handed back to the system by ``call`` after a fragmented heap, in a fresh process."""
    out = subprocess.run([sys.executable, "-c", FRAGMENT_HEAP + call + "\nprint(before - rss())"],
                         capture_output=True, text=True, check=True, timeout=60, cwd=Path(__file__).parents[2])
    return float(out.stdout.strip().splitlines()[-1])


def test_freed_heap_is_kept_by_glibc_unless_trimmed() -> None:
    assert freed_by("pass") < 20  # the reason for the rest
    assert freed_by("assert memory.release_freed_memory()") > 50


def test_the_daemon_service_trims_until_stopped() -> None:
    service = ("async def main():\n"
               "    stop = asyncio.Event()\n"
               "    task = asyncio.ensure_future(memory.keep_trimmed(stop, every_s=0.05))\n"
               "    await asyncio.sleep(0.3)\n"
               "    stop.set()\n"
               "    await asyncio.wait_for(task, 1)\n"
               "asyncio.run(main())")
    assert freed_by(service) > 50
