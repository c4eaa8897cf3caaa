"""Real servers on 127.0.0.1 for end-to-end tests: a web site, a webhook receiver, an SMTP server."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Page:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200


@dataclass
class Site:
    """A site whose pages tests can add or change while it runs; counts requests per path."""

    pages: dict[str, Page] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    runner: web.AppRunner | None = None
    base: str = ""

    def add(self, path: str, text: str | bytes, content_type: str = "text/html; charset=utf-8", status: int = 200) -> None:
        body = text.encode("utf-8") if isinstance(text, str) else text
        self.pages[path] = Page(body, content_type, status)

    async def _handle(self, request: web.Request) -> web.Response:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1
        page = self.pages.get(request.path)
        if page is None:
            return web.Response(status=404, text="not found")
        return web.Response(body=page.body, status=page.status, headers={"Content-Type": page.content_type})

    async def start(self) -> "Site":
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.base = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()


@dataclass
class WebhookReceiver:
    """Records every POST; ``status`` can be switched to simulate an outage, ``delay_s`` makes it
    slow to answer (after recording: a sender killed meanwhile has been heard but not answered)."""

    status: int = 200
    delay_s: float = 0.0
    received: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    runner: web.AppRunner | None = None
    url: str = ""
    in_flight: int = 0  # requests being answered right now

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.status >= 300:
            return web.Response(status=self.status, text="down")
        self.received.append((dict(request.headers), json.loads(body)))
        self.in_flight += 1
        try:
            await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1
        return web.json_response({"ok": True})

    def keys(self) -> list[str]:
        return [headers["Idempotency-Key"] for headers, _ in self.received]

    async def start(self) -> "WebhookReceiver":
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/hook"
        return self

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()


class _Collect:
    def __init__(self, box: list[EmailMessage]) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd API)
        self.box.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 OK"


class SmtpReceiver:
    """A real SMTP server (aiosmtpd) on loopback that keeps every message."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> "SmtpReceiver":
        """(Re)start on the same port, so a test can simulate an outage and a recovery."""
        self.controller = Controller(_Collect(self.messages), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


async def wait_for(predicate: Any, timeout_s: float = 60.0, step_s: float = 0.1) -> None:
    """Poll until ``predicate()`` is true; fails the test with a timeout otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        await asyncio.sleep(step_s)
