"""Every page renders for the roles that may open it and shows the seeded facts, on both backends."""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from seed import Scene, login, make_desk, seed_runs, utcnow, write_config

from console.app import Desk, make_app

PAGES = ("/alerts", "/incidents", "/leads/new", "/sources", "/ledger", "/dashboard", "/audit", "/admin/users",
         "/admin/departments")


async def test_admin_opens_every_page(client: TestClient, scene: Scene) -> None:
    await login(client, "管理员")
    for path in (*PAGES, f"/alerts/{scene.major}", f"/alerts/{scene.hostile}"):
        answer = await client.get(path)
        assert answer.status == 200, (path, await answer.text())
        assert "舆情监测工作台" in await answer.text()
    queue = await (await client.get("/alerts")).text()
    assert "化隆二幼多名幼儿午餐后呕吐" in queue and "剩余" in queue
    incidents = await (await client.get("/incidents")).text()
    assert all(f"转：化隆二幼幼儿呕吐事件（{i}）" in incidents for i in (1, 2, 3))
    detail = await (await client.get(f"/alerts/{scene.major}")).text()
    assert "<mark>化隆二幼</mark>" in detail and "核验通过" in detail and 'value="assess"' in detail
    audit = await (await client.get("/audit")).text()
    assert "审计日志完整：共 8 条" in audit  # two departments and six users added by the seed
    exported = await client.get("/audit.csv")
    assert (await exported.read()).startswith("\ufeff序号".encode())
    form = await client.get(f"/alerts/{scene.major}/form/处理单")
    assert form.status == 200 and (await form.read()).startswith(b"PK")  # the .docx of alerts.forms


async def test_queue_filters_sort_and_pages(client: TestClient, desk: Desk, scene: Scene) -> None:
    await login(client, "小李")
    ordinary = await (await client.get("/alerts", params={"grade": "一般", "source": "school-bbs"})).text()
    assert "县二幼兴趣班乱收费" in ordinary and "化隆二幼多名幼儿午餐后呕吐" not in ordinary
    everything = await (await client.get("/alerts")).text()
    # Earliest deadline first: the 一般 found two days ago is past its dispatch deadline, the 重大 found
    # 50 minutes ago is due to the leader within 2 h, the 一般 found 3 h ago has 21 h left.
    order = [everything.index(t) for t in ("县二幼兴趣班乱收费", "化隆二幼多名幼儿午餐后呕吐", "县二幼相关讨论 1<")]
    assert order == sorted(order)
    late = await (await client.get("/alerts", params={"overdue": "1"})).text()
    assert "化隆二幼多名幼儿午餐后呕吐" not in late and "县二幼相关讨论" in late
    total = int(re.search(r"共 (\d+) 条", everything).group(1))  # type: ignore[union-attr]
    assert total >= 10  # every seeded story (reposts folded into an incident may show as its primary only)
    desk.page_size = 4
    pages = -(-total // 4)
    first, last = [await (await client.get("/alerts", params={"page": n})).text() for n in ("1", str(pages))]
    assert f"第 1 / {pages} 页" in first and "下一页" in first and "上一页" not in first
    assert last.count('<td class="num">') == total - (pages - 1) * 4 and "下一页" not in last
    assert f"第 {pages} / {pages} 页" in await (await client.get("/alerts", params={"page": "99"})).text()


async def test_ledger_shows_every_window_and_the_gap(sessions, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from seed import seed_people

    now = utcnow()
    config = write_config(tmp_path / "config")
    await seed_people(sessions, now)
    await seed_runs(sessions, config, now)
    desk: Desk = make_desk(sessions, tmp_path / "data", config)
    async with TestClient(TestServer(make_app(desk), host="127.0.0.1")) as client:
        await login(client, "王校长")
        ledger = await (await client.get("/ledger", params={"days": "3"})).text()
        sources = await (await client.get("/sources")).text()
    assert ledger.count("缺口（未巡查）") == 1 and "该时段没有巡查记录" in ledger
    assert ledger.count("16:00-17:00") == 3 * 3  # three sources, three days
    assert re.search(r"化隆教育论坛.*?缺口 \d+", sources, re.DOTALL) and "验证页" in sources


async def test_admin_adds_department_and_user_through_the_audited_functions(client: TestClient, desk: Desk) -> None:
    from cases import history

    token = await login(client, "小李")
    refused = await client.post("/admin/departments", data={"name": "办公室", "csrf": token})
    assert refused.status == 403  # an operator may not, whatever the form says
    client.session.cookie_jar.clear()
    token = await login(client, "管理员")
    added = await client.post("/admin/departments", data={"name": "办公室", "contacts": "李主任 0972-7654321\n",
                                                          "channels": "", "csrf": token}, allow_redirects=False)
    assert added.status == 303
    user = await client.post("/admin/users", data={"name": "办公室周", "role": "department", "department": "办公室",
                                                   "password": "office-pass-1", "csrf": token}, allow_redirects=False)
    assert user.status == 303
    short = await client.post("/admin/users", data={"name": "短密码", "role": "operator", "password": "123",
                                                    "csrf": token})
    assert short.status == 400 and "密码至少 8 位" in await short.text()
    entries = [(e.actor, e.action, (e.detail or {}).get("name")) for e in await history(desk.sessions)]
    assert entries[-2:] == [("管理员", "department_add", "办公室"), ("管理员", "user_add", "办公室周")]
    client.session.cookie_jar.clear()
    await login(client, "办公室周", "office-pass-1")  # the new account logs in with its argon2 password
    assert "目前没有交办给本部门的事项" in await (await client.get("/dept")).text()
