"""The desk's security contract, through real HTTP against the real app, on SQLite and PostgreSQL:
no session → /login; CSRF refused; login rate limit; roles and objects checked on the server; CSP;
upload limits; crawled content escaped."""

from __future__ import annotations

import io

from aiohttp import FormData
from aiohttp.test_utils import TestClient
from seed import HOSTILE_TEXT, Scene, act_as, csrf_of, login

from alerts.leads import MAX_SCREENSHOT_BYTES
from alerts.workflow import Request
from console.app import MAX_BODY_BYTES, Desk


async def test_no_session_redirects_to_login(client: TestClient, scene: Scene) -> None:
    for path in ("/", "/alerts", f"/alerts/{scene.major}", "/ledger", "/admin/users", "/dashboard"):
        answer = await client.get(path, allow_redirects=False)
        assert answer.status == 303, path
        assert answer.headers["Location"].startswith("/login?next=")
    posted = await client.post(f"/alerts/{scene.major}/act", data={"action": "assess"}, allow_redirects=False)
    assert posted.status == 403  # no CSRF nonce: refused before anything else


async def test_session_cookie_flags_and_csp(client: TestClient, scene: Scene) -> None:
    page = await client.get("/login")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"]
    token = csrf_of(await page.text())
    answer = await client.post("/login", data={"name": "小李", "password": "desk-pass-2026", "csrf": token},
                               allow_redirects=False)
    cookie = answer.headers.getall("Set-Cookie")
    session = next(c for c in cookie if c.startswith("yuqing_session="))
    assert "HttpOnly" in session and "SameSite=Lax" in session and "Secure" not in session  # plain HTTP here
    queue = await client.get("/alerts")
    assert queue.status == 200 and "frame-ancestors 'none'" in queue.headers["Content-Security-Policy"]
    assert queue.headers["X-Content-Type-Options"] == "nosniff"
    client.session.cookie_jar.clear()
    behind_tls = await client.get("/login", headers={"X-Forwarded-Proto": "https"})  # the local HTTPS proxy
    assert "Secure" in behind_tls.headers["Set-Cookie"] and "HttpOnly" in behind_tls.headers["Set-Cookie"]


async def test_login_returns_only_to_local_pages(client: TestClient, scene: Scene) -> None:
    token = csrf_of(await (await client.get("/login")).text())
    landed = []
    for target in ("/ledger?days=3", "//evil.example/", "/\\evil.example/", "https://evil.example/"):
        client.session.cookie_jar.clear()
        token = csrf_of(await (await client.get("/login")).text())
        answer = await client.post("/login", data={"name": "王校长", "password": "desk-pass-2026", "csrf": token,
                                                   "next": target}, allow_redirects=False)
        landed.append(answer.headers["Location"])
    assert landed == ["/ledger?days=3", "/", "/", "/"]


async def test_csrf_token_required_on_every_form(client: TestClient, scene: Scene) -> None:
    page = await client.get("/login")
    refused = await client.post("/login", data={"name": "小李", "password": "desk-pass-2026"}, allow_redirects=False)
    assert refused.status == 403 and "安全令牌" in await refused.text()
    forged = await client.post("/login", data={"name": "小李", "password": "desk-pass-2026", "csrf": "x" * 43})
    assert forged.status == 403
    token = await login(client, "小李")
    assert csrf_of(await page.text()) == token  # one nonce per browser
    for data in ({"action": "assess"}, {"action": "assess", "csrf": token[:-2] + "AA"}):
        answer = await client.post(f"/alerts/{scene.major}/act", data=data)
        assert answer.status == 403
    other_site = await client.post(f"/alerts/{scene.major}/act", data={"action": "assess", "csrf": token},
                                   headers={"Origin": "http://evil.example"})
    assert other_site.status == 403
    ok = await client.post(f"/alerts/{scene.major}/act", data={"action": "assess", "csrf": token},
                           allow_redirects=False)
    assert ok.status == 303  # the same post with the token goes through
    out = await client.post("/logout", data={"csrf": token}, allow_redirects=False)
    assert out.status == 303 and (await client.get("/alerts", allow_redirects=False)).status == 303


async def test_login_rate_limited(client: TestClient, desk: Desk) -> None:
    token = csrf_of(await (await client.get("/login")).text())
    for _ in range(desk.limiter.failures):
        wrong = await client.post("/login", data={"name": "小李", "password": "wrong-password", "csrf": token})
        assert wrong.status == 401 and "用户名或密码错误" in await wrong.text()
    blocked = await client.post("/login", data={"name": "小李", "password": "desk-pass-2026", "csrf": token},
                                allow_redirects=False)
    assert blocked.status == 429 and int(blocked.headers["Retry-After"]) > 0  # even the right password waits
    assert "yuqing_session" not in blocked.cookies


ROLE_PAGES = (  # (user, page, status): a decision table, checked in one login per user
    ("信息员陈", "/alerts", 403), ("信息员陈", "/ledger", 403), ("信息员陈", "/leads/new", 200),
    ("保教处张", "/admin/users", 403), ("保教处张", "/dashboard", 403), ("保教处张", "/audit", 403), ("保教处张", "/dept", 200),
    ("保教处张", "/leads/new", 403), ("王校长", "/admin/users", 403), ("王校长", "/ledger", 200),
    ("小李", "/admin/departments", 403), ("小李", "/incidents", 200), ("管理员", "/admin/users", 200),
)


async def test_pages_by_role(client: TestClient, scene: Scene) -> None:
    seen = []
    for name in dict.fromkeys(user for user, _, _ in ROLE_PAGES):
        client.session.cookie_jar.clear()
        await login(client, name)
        seen += [(name, path, (await client.get(path)).status) for user, path, _ in ROLE_PAGES if user == name]
    assert seen == list(ROLE_PAGES)
    client.session.cookie_jar.clear()
    await login(client, "信息员陈")  # an informant reads only their own leads
    assert [(await client.get(f"/alerts/{i}")).status for i in (scene.major, scene.hostile)] == [404, 404]


async def test_department_sees_only_its_own_dispatched_alerts(client: TestClient, desk: Desk, scene: Scene) -> None:
    await act_as(desk, scene.major, "小李", Request("assess"), Request("report"))
    await act_as(desk, scene.major, "王校长", Request("dispatch", department="保教处", due=None))
    token = await login(client, "后勤处刘")
    queue = await (await client.get("/alerts")).text()
    assert "化隆二幼多名幼儿午餐后呕吐" not in queue
    for path in (f"/alerts/{scene.major}", f"/alerts/{scene.ordinary}", f"/alerts/{scene.major}/archive",
                 f"/alerts/{scene.major}/form/处理单", "/alerts/99999"):
        assert (await client.get(path)).status == 404, path
    reply = await client.post(f"/alerts/{scene.major}/act", data={"action": "reply", "text": "已处理", "csrf": token})
    assert reply.status == 404
    await client.post("/logout", data={"csrf": token})
    token = await login(client, "保教处张")
    queue = await (await client.get("/alerts")).text()
    assert "化隆二幼多名幼儿午餐后呕吐" in queue and "县二幼兴趣班乱收费" not in queue
    assert (await client.get(f"/alerts/{scene.ordinary}")).status == 404
    detail = await (await client.get(f"/alerts/{scene.major}")).text()
    assert 'value="reply"' in detail and 'value="close"' not in detail and 'value="dispatch"' not in detail
    closing = await client.post(f"/alerts/{scene.major}/act", data={"action": "close", "report": "x", "csrf": token})
    assert closing.status == 409 and "无权结案" in await closing.text()  # refused by alerts.workflow itself


async def test_crawled_markup_is_escaped(client: TestClient, scene: Scene) -> None:
    await login(client, "小李")
    page = await (await client.get(f"/alerts/{scene.hostile}")).text()
    assert "<script>document.body" not in page and "<img src=x" not in page
    assert "&lt;script&gt;document.body.dataset.pwned" in page
    assert 'href="javascript:' not in page  # a crawled javascript: URL is shown, never linked
    archived = await client.get(f"/alerts/{scene.hostile}/archive")
    assert archived.content_type == "text/plain" and "sandbox" in archived.headers["Content-Security-Policy"]
    assert HOSTILE_TEXT in await archived.text()


def _upload(token: str, name: str, data: bytes, content_type: str = "image/png") -> FormData:
    form = FormData()
    form.add_field("csrf", token)
    form.add_field("text", "微信群里有人转发县二幼乱收费的截图")
    form.add_field("screenshot", io.BytesIO(data), filename=name, content_type=content_type)
    return form


PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


async def test_uploads_limited_in_type_and_size(client: TestClient, desk: Desk, scene: Scene) -> None:
    token = await login(client, "信息员陈")
    disguised = await client.post("/leads", data=_upload(token, "shot.png", b"<script>alert(1)</script>"))
    assert disguised.status == 400 and "只接受" in await disguised.text()
    too_big = await client.post("/leads", data=_upload(token, "big.png", PNG + b"\0" * MAX_SCREENSHOT_BYTES))
    assert too_big.status == 400 and "截图过大" in await too_big.text()
    flood = await client.post("/leads", data=_upload(token, "huge.png", PNG + b"\0" * MAX_BODY_BYTES))
    assert flood.status == 413  # the whole request is capped before any handler reads it
    ok = await client.post("/leads", data=_upload(token, "截图.png", PNG), allow_redirects=False)
    assert ok.status == 303 and ok.headers["Location"].startswith("/leads/new?done=")
    kept = list((desk.data_dir / "leads").iterdir())
    assert len(kept) == 1 and kept[0].suffix == ".png"
