"""Real loopback receivers for the notifier tests: an aiosmtpd SMTP server, an aiohttp web app, and
DingTalk, WeCom and Feishu robots that verify signatures as the real services do."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qs

import pytest
from aiohttp import web
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from crawler.types import AlertPayload, NoticePayload


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


# --- Group robots of China's messaging apps -------------------------------------------------------
# One aiohttp app plays DingTalk, WeCom and Feishu at their real paths. It checks what the real
# services check, as their documentation describes it — the token or key in the URL, the signature
# recomputed here from the shared secret and the received timestamp, timestamps more than an hour
# off refused, the size limits — answers with their error codes, and records what it accepted.

ROBOT_STALE_S = 3600


@dataclass
class Robots:
    base: str = ""
    dingtalk_token: str = "d1ngT0KEN0123456789abcdef"
    dingtalk_secret: str | None = "SECd1ngS3CRET0123456789"
    wecom_key: str = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
    feishu_token: str = "f3ishuT0KEN-0123-4567-89ab"
    feishu_secret: str | None = "f3ishuS3CRET"
    feishu_legacy: bool = False  # answer {"StatusCode": 0, …} as older Feishu deployments do
    rate_limited: set[str] = field(default_factory=set)  # services answering "too fast"
    messages: dict[str, list[dict[str, object]]] = field(
        default_factory=lambda: {"dingtalk": [], "wecom": [], "feishu": []})
    raw: dict[str, list[bytes]] = field(default_factory=lambda: {"dingtalk": [], "wecom": [], "feishu": []})
    signed_with: list[str] = field(default_factory=list)  # timestamps of verified signatures

    @property
    def dingtalk_url(self) -> str:
        return f"{self.base}/robot/send?access_token={self.dingtalk_token}"

    @property
    def wecom_url(self) -> str:
        return f"{self.base}/cgi-bin/webhook/send?key={self.wecom_key}"

    @property
    def feishu_url(self) -> str:
        return f"{self.base}/open-apis/bot/v2/hook/{self.feishu_token}"


def _hmac_b64(key: str, message: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), message.encode(), hashlib.sha256).digest()).decode()


def _robot_app(robots: Robots) -> web.Application:
    async def dingtalk(request: web.Request) -> web.Response:
        def answer(code: int, message: str) -> web.Response:
            return web.json_response({"errcode": code, "errmsg": message})

        # DingTalk url-decodes the query: parse the raw one as it arrives
        query = {k: v[0] for k, v in parse_qs(request.rel_url.raw_query_string, keep_blank_values=True).items()}
        if query.get("access_token") != robots.dingtalk_token:
            return answer(300005, "token is not exist")
        if robots.dingtalk_secret is not None:
            timestamp, signature = query.get("timestamp", ""), query.get("sign", "")
            if not timestamp.isdigit() or abs(int(timestamp) - time.time() * 1000) > ROBOT_STALE_S * 1000:
                return answer(310000, "invalid timestamp")
            expected = _hmac_b64(robots.dingtalk_secret, f"{timestamp}\n{robots.dingtalk_secret}")
            if signature != expected:
                return answer(310000, "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]")
            robots.signed_with.append(timestamp)
        if "dingtalk" in robots.rate_limited:
            return answer(130101, "send too fast, exceed 20 times per minute")
        raw = await request.read()
        document = json.loads(raw)
        if document.get("msgtype") == "markdown":
            if len(document["markdown"]["text"].encode()) > 20000:
                return answer(460101, "message too long, exceed 20000 bytes")
        elif document.get("msgtype") != "text":
            return answer(40035, "缺少参数 json")
        robots.messages["dingtalk"].append(document)
        robots.raw["dingtalk"].append(raw)
        return answer(0, "ok")

    async def wecom(request: web.Request) -> web.Response:
        def answer(code: int, message: str) -> web.Response:
            return web.json_response({"errcode": code, "errmsg": message})

        if request.query.get("key") != robots.wecom_key:
            return answer(93000, "invalid webhook url, hint: [1700000000_1_abc], from ip: 127.0.0.1")
        if "wecom" in robots.rate_limited:
            return answer(45009, "api freq out of limit")
        raw = await request.read()
        document = json.loads(raw)
        kind = document.get("msgtype")
        limit = {"markdown": 4096, "text": 2048}.get(kind)
        if limit is None:
            return answer(40008, "invalid message type")
        if len(document[kind]["content"].encode()) > limit:
            return answer(40058, f"{kind}.content exceed max length {limit}")
        robots.messages["wecom"].append(document)
        robots.raw["wecom"].append(raw)
        return answer(0, "ok")

    async def feishu(request: web.Request) -> web.Response:
        def answer(code: int, message: str) -> web.Response:
            if robots.feishu_legacy:
                return web.json_response({"Extra": None, "StatusCode": code, "StatusMessage": message})
            return web.json_response({"code": code, "data": {}, "msg": message})

        if request.match_info["token"] != robots.feishu_token:
            return answer(19001, "param invalid: incoming webhook access token invalid")
        raw = await request.read()
        if len(raw) > 20 * 1024:
            return answer(9499, "request body too large")
        document = json.loads(raw)
        if robots.feishu_secret is not None:
            timestamp = str(document.get("timestamp", ""))
            expected = _hmac_b64(f"{timestamp}\n{robots.feishu_secret}", "")
            if not timestamp.isdigit() or abs(int(timestamp) - time.time()) > ROBOT_STALE_S \
                    or document.get("sign") != expected:
                return answer(19021, "sign match fail or timestamp is not within one hour from current time")
            robots.signed_with.append(timestamp)
        if "feishu" in robots.rate_limited:
            return answer(11232, "frequency limited psm[lark.oapi.app_platform_runtime]appID[1]")
        if document.get("msg_type") != "text" or not isinstance(document.get("content", {}).get("text"), str):
            return answer(9499, "Bad Request")
        robots.messages["feishu"].append(document)
        robots.raw["feishu"].append(raw)
        return answer(0, "success")

    app = web.Application()
    app.router.add_post("/robot/send", dingtalk)
    app.router.add_post("/cgi-bin/webhook/send", wecom)
    app.router.add_post("/open-apis/bot/v2/hook/{token}", feishu)
    return app


@pytest.fixture
async def robots() -> AsyncIterator[Robots]:
    """DingTalk, WeCom and Feishu robots on 127.0.0.1; change the fields to change what they expect."""
    state = Robots()
    runner = web.AppRunner(_robot_app(state), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    state.base = f"http://{host}:{port}"
    yield state
    await runner.cleanup()


def _notice(**changes: object) -> NoticePayload:
    values: dict[str, object] = {
        "notice_id": 7, "idempotency_key": "notice-7-down", "kind": "source_down", "source_id": "hualong-tieba",
        "source_name": "化隆吧", "message": "百度安全验证页面：巡查未取得任何帖子", "url": "https://tieba.baidu.com/f?kw=化隆",
        "found_at": datetime(2026, 11, 24, 5, 30, tzinfo=timezone.utc)}
    values.update(changes)
    return NoticePayload(**values)  # type: ignore[arg-type]


@pytest.fixture
def make_notice() -> Callable[..., NoticePayload]:
    """A sample source-health notice (化隆吧 shows a verification page); keyword arguments replace fields."""
    return _notice
