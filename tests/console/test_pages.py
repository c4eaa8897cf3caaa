"""Every page renders for the roles that may open it (and shows the seeded facts), on both backends."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from seed import Scene, login

PAGES = ("/alerts", "/incidents", "/leads/new", "/sources", "/ledger", "/dashboard", "/admin/users",
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
