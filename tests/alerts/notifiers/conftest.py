"""Real loopback receivers for the notifier tests: an aiosmtpd SMTP server and an aiohttp web app."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest
from aiohttp import web
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from crawler.types import AlertPayload


def _alert(**changes: object) -> AlertPayload:
    values: dict[str, object] = dict(
        alert_id=42,
        idempotency_key="3f2a9c0d5e6b7a8f",
        grade="重大",
        category="安全生产",
        rule_id="food-safety",
        matched_terms=("化隆二幼", "呕吐"),
        snippet="多名家长反映，化隆二幼大班部分幼儿在午餐后出现呕吐、腹痛等症状",
        url="http://127.0.0.1:8080/news/1031.html",
        title="家长反映化隆二幼多名幼儿午餐后呕吐",
        source_id="demo-news",
        source_name="化隆县新闻网",
        found_at=datetime(2026, 11, 24, 5, 7, 12, tzinfo=timezone.utc),  # 13:07:12 in Shanghai
        published_at=datetime(2026, 11, 24, 4, 42, tzinfo=timezone.utc),
    )
    values.update(changes)
    return AlertPayload(**values)  # type: ignore[arg-type]


@pytest.fixture
def make_alert() -> Callable[..., AlertPayload]:
    """A sample 重大 food-safety alert; keyword arguments replace fields."""
    return _alert


@dataclass
class Mailbox:
    """What the SMTP server received, and how it should answer."""

    port: int = 0
    envelopes: list[Envelope] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # address → reply, e.g. "550 5.1.1 no such user"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refused:
            return self.refused[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"


def _deny(server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object) -> AuthResult:
    return AuthResult(success=False, handled=False)


@pytest.fixture
async def mailbox() -> AsyncIterator[Mailbox]:
    """A real aiosmtpd server on 127.0.0.1 (in this loop, port picked by the system); AUTH always fails."""
    loop = asyncio.get_running_loop()
    box = Mailbox()
    server = await loop.create_server(
        lambda: SMTP(box, hostname="test.local", loop=loop, authenticator=_deny, auth_require_tls=False),
        "127.0.0.1", 0)
    box.port = server.sockets[0].getsockname()[1]
    yield box
    server.close()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound but not listening: connecting is refused at once, and no one else can take it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A server that accepts connections and never says a word (a hung SMTP or HTTP peer)."""
    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


Handler = Callable[[web.Request], Awaitable[web.Response]]


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    base: str
    requests: list[Received]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """An aiohttp web app on 127.0.0.1: /ok 200, /accepted 202, /fail 500, /moved 302."""
    requests: list[Received] = []

    def route(status: int, text: str = "", headers: dict[str, str] | None = None) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            requests.append(Received(request.method, request.path, dict(request.headers), await request.read()))
            return web.Response(status=status, text=text, headers=headers)
        return handler

    app = web.Application()
    app.router.add_post("/ok", route(200, "ok"))
    app.router.add_post("/accepted", route(202))
    app.router.add_post("/fail", route(500, "数据库不可用\n请稍后重试"))
    app.router.add_post("/moved", route(302, headers={"Location": "/ok"}))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield Receiver(f"http://{host}:{port}", requests)
    await runner.cleanup()
