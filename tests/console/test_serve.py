"""``yuqing serve`` and ``yuqing run --web`` start the desk as real processes, answer on loopback
with the security headers, and stop cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
from loopback import free_port
from seed import write_config


async def _desk_answers(proc: asyncio.subprocess.Process, port: int) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as client:
        for _ in range(300):
            if proc.returncode is not None:
                raise AssertionError(f"exited early: {(await proc.stderr.read()).decode()}")  # type: ignore[union-attr]
            try:
                async with client.get(f"http://127.0.0.1:{port}/alerts", allow_redirects=False) as answer:
                    await answer.read()
                    return answer
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    raise AssertionError("the desk never answered")


async def _run(tmp_path: Path, *args: str) -> None:
    port = free_port()
    config = tmp_path / "config"
    write_config(config)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "crawler.cli", "--config", str(config), "--data", str(tmp_path / "data"), *args,
        "--port", str(port), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "YUQING_LOG_LEVEL": "WARNING"})
    try:
        answer = await _desk_answers(proc, port)
        assert answer.status == 303 and answer.headers["Location"] == "/login?next=/alerts"
        assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
        assert (tmp_path / "data" / "console-secret").stat().st_mode & 0o077 == 0  # the signing key is private
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == 0, (await proc.stderr.read()).decode()  # type: ignore[union-attr]


async def test_yuqing_serve(tmp_path: Path) -> None:
    await _run(tmp_path, "serve")


async def test_yuqing_run_web(tmp_path: Path) -> None:
    await _run(tmp_path, "run", "--web")
