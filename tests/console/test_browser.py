"""The desk in real headless Chromium (Debian's, driven by Playwright): a 重大 alert worked from
new to closed by the roles the regulations name, department isolation by URL, hostile crawled
content that must stay text, a form without its CSRF token, and a full-page screenshot of each
main page under test-output/console/ for a person to look at."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, async_playwright
from seed import PASSWORD, Scene, make_desk, seed_people, seed_runs, seed_scene, utcnow, write_config

from console.app import Desk, make_app
from storage import db

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "console"
# One browser and one seeded desk for the module (launching Chromium is the slow part); each test
# works on alerts of its own, so the order of the tests does not matter.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass
class Site:
    base: str
    desk: Desk
    scene: Scene


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    tmp_path = tmp_path_factory.mktemp("desk")
    engine = db.make_engine(f"sqlite+aiosqlite:///{tmp_path / 'yuqing.db'}")
    await db.upgrade(engine)
    sessions, now = db.sessionmaker(engine), utcnow()
    config = write_config(tmp_path / "config")
    await seed_people(sessions, now)
    desk = make_desk(sessions, tmp_path / "data", config)
    scene = await seed_scene(sessions, desk.evidence, now)
    await seed_runs(sessions, config, now)
    server = TestServer(make_app(desk), host="127.0.0.1")
    await server.start_server()
    try:
        yield Site(str(server.make_url("")).rstrip("/"), desk, scene)
    finally:
        await server.close()
        await engine.dispose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "Debian package chromium is missing (.ci/run installs it)"
    async with async_playwright() as pw:
        # --no-sandbox: Chromium refuses to run as root with its sandbox (CI runs as root);
        # --disable-dev-shm-usage: containers give /dev/shm too little for it.
        args = ["--disable-dev-shm-usage", *(["--no-sandbox"] if os.geteuid() == 0 else [])]
        launched = await pw.chromium.launch(executable_path=executable, args=args)
        yield launched
        await launched.close()


async def open_as(browser: Browser, site: Site, name: str) -> Page:
    """A fresh browser profile, logged in through the login form."""
    context = await browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    page.set_default_timeout(10_000)
    await page.goto(site.base + "/")
    assert "/login" in page.url  # no session: sent to the login page, then to the role's home page
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button:has-text('登录')")
    await page.wait_for_load_state()
    assert "/login" not in page.url, await page.content()
    return page


async def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def act(page: Page, label: str, fields: dict[str, str] | None = None) -> None:
    form = page.locator("form.action", has=page.locator(f"button:has-text('{label}')"))
    for name, value in (fields or {}).items():
        field = form.locator(f"[name={name}]")
        if await field.evaluate("e => e.tagName") == "SELECT":
            await field.select_option(value)
        else:
            await field.fill(value)
    await form.locator("button").click()
    await page.wait_for_load_state()
    assert "已完成" in await page.locator(".alert.ok").inner_text(), await page.content()


async def test_major_alert_from_new_to_closed(browser: Browser, site: Site) -> None:
    major = site.scene.major
    login_page = await (await browser.new_context(locale="zh-CN")).new_page()
    await login_page.goto(site.base + "/login")
    await shot(login_page, "01-login")

    operator = await open_as(browser, site, "小李")
    await operator.click(f"a[href='/alerts/{major}']")
    assert await operator.locator("h1").inner_text() == f"告警 {major} 化隆二幼多名幼儿午餐后呕吐"
    await shot(operator, "03-alert-new")
    await act(operator, "开始研判", {"note": "已电话核实，确有幼儿不适"})
    await act(operator, "上报领导")
    assert await operator.locator(".state").first.inner_text() == "已上报"

    leader = await open_as(browser, site, "王校长")
    await leader.goto(f"{site.base}/alerts/{major}")
    await act(leader, "交办", {"department": "保教处", "note": "请保教处今日内核查食堂"})
    assert await leader.locator(".state").first.inner_text() == "已交办"

    department = await open_as(browser, site, "保教处张")
    assert department.url.endswith("/dept")
    await shot(department, "06-department")
    item = department.locator("section.dept-item", has=department.locator(f"a[href='/alerts/{major}']"))
    await item.locator("textarea[name=text]").fill("已核查：3 名幼儿轻度肠胃不适，已康复；食堂留样送检。")
    await item.locator("button:has-text('提交反馈')").click()
    await department.wait_for_load_state()
    assert department.url.endswith("/dept")
    assert "本部门反馈：已核查：3 名幼儿轻度肠胃不适" in await department.inner_text("main")

    await leader.goto(f"{site.base}/alerts/{major}")
    await act(leader, "结案", {"report": "经核查系个别幼儿肠胃不适，已向家长说明，舆情平息。"})
    assert await leader.locator(".state").first.inner_text() == "已结案"
    history = await leader.locator("#history").inner_text()
    for step in ("开始研判", "上报领导", "交办", "反馈处置结果", "结案"):
        assert step in history
    assert await leader.locator("section.actions").count() == 0  # nothing left to do
    await shot(leader, "04-alert-closed")


async def test_department_sees_only_its_own(browser: Browser, site: Site) -> None:
    from seed import act_as

    from alerts.workflow import Request

    mine = site.scene.others[0]
    await act_as(site.desk, mine, "小李", Request("assess"), Request("report"), Request("dispatch", department="保教处"))
    other = await open_as(browser, site, "后勤处刘")
    assert "县二幼相关讨论 1" not in await other.inner_text("main")
    for path in (f"/alerts/{mine}", f"/alerts/{site.scene.major}", f"/alerts/{mine}/archive",
                 f"/alerts/{mine}/form/处理单"):
        answer = await other.goto(site.base + path)
        assert answer is not None and answer.status == 404, path
        assert "县二幼相关讨论 1" not in await other.content()
    await other.goto(site.base + "/alerts")
    assert "县二幼相关讨论 1" not in await other.content()
    own = await open_as(browser, site, "保教处张")
    assert "县二幼相关讨论 1" in await own.inner_text("main")
    answer = await own.goto(f"{site.base}/alerts/{mine}")
    assert answer is not None and answer.status == 200


async def test_hostile_page_stays_text(browser: Browser, site: Site) -> None:
    page = await open_as(browser, site, "小李")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    await page.goto(f"{site.base}/alerts/{site.scene.hostile}")
    await page.wait_for_load_state("networkidle")
    text = await page.inner_text("main")
    assert "<script>document.body.dataset.pwned" in text and "onerror=" in text  # shown as text
    assert await page.evaluate("document.body.dataset.pwned") is None  # and nothing ran
    assert await page.locator("main script, main img").count() == 0
    assert await page.locator("a[href^='javascript:']").count() == 0
    assert "核验通过" in text  # the hostile page's evidence is intact like any other
    await shot(page, "05-alert-hostile")
    await page.goto(f"{site.base}/alerts/{site.scene.hostile}/archive")
    assert "<script>alert('archived')</script>" in await page.inner_text("body")
    await page.goto(f"{site.base}/alerts")
    await page.wait_for_load_state("networkidle")
    assert dialogs == [] and await page.evaluate("document.body.dataset.pwned") is None


async def test_form_without_csrf_token_is_refused(browser: Browser, site: Site) -> None:
    page = await open_as(browser, site, "小李")
    target = site.scene.others[1]
    await page.goto(f"{site.base}/alerts/{target}")
    await page.evaluate("document.querySelectorAll('input[name=csrf]').forEach(e => e.remove())")
    await page.locator("form.action", has=page.locator("button:has-text('开始研判')")).locator("button").click()
    await page.wait_for_load_state()
    assert "安全令牌" in await page.inner_text("main")
    await page.goto(f"{site.base}/alerts/{target}")
    assert await page.locator(".state").first.inner_text() == "待研判"  # nothing happened


async def test_screenshots_of_main_pages(browser: Browser, site: Site) -> None:
    from seed import act_as

    from alerts.workflow import Request

    await act_as(site.desk, site.scene.ordinary, "小李", Request("assess"), Request("report"),
                 Request("dispatch", department="后勤处"))
    await act_as(site.desk, site.scene.ordinary, "后勤处刘", Request("reply", text="已联系家长说明收费标准"))
    await act_as(site.desk, site.scene.ordinary, "王校长", Request("close", report="收费符合规定，已公示"))
    admin = await open_as(browser, site, "管理员")
    complaints: list[str] = []  # the desk's own pages must need nothing the CSP forbids
    admin.on("console", lambda m: complaints.append(m.text) if m.type == "error" else None)
    for name, path, expect in (("02-queue", "/alerts", "告警队列"), ("07-incidents", "/incidents", "传播路径"),
                               ("08-sources", "/sources", "来源与健康状态"), ("09-ledger", "/ledger?days=3", "缺口"),
                               ("10-dashboard", "/dashboard", "每日命中"), ("14-audit", "/audit", "审计日志完整"), ("11-lead", "/leads/new", "报送线索"),
                               ("12-users", "/admin/users", "添加用户"), ("13-departments", "/admin/departments", "添加部门")):
        answer = await admin.goto(site.base + path)
        assert answer is not None and answer.status == 200, path
        assert expect in await admin.inner_text("main"), path
        await shot(admin, name)
    assert len(list(SHOTS.glob("*.png"))) >= 8
    assert complaints == []
    countdown = await admin.goto(site.base + "/alerts")
    assert countdown is not None
    texts = await admin.locator(".countdown").all_inner_texts()  # rewritten by desk.js, same wording
    assert texts and all(t.startswith(("剩余 ", "超时 ")) for t in texts)


async def test_informant_submits_a_lead_with_a_screenshot(browser: Browser, site: Site, tmp_path: Path) -> None:
    informant = await open_as(browser, site, "信息员陈")
    assert informant.url.endswith("/leads/new")
    assert await informant.locator("nav a").all_inner_texts() == ["报送线索"]  # nothing else for this role
    image = tmp_path / "微信群截图.png"
    await informant.screenshot(path=str(image))  # a real PNG
    await informant.fill("textarea[name=text]", "微信家长群：有人称县二幼食堂用过期食材，配图为截图。")
    await informant.select_option("select[name=grade]", "重大")
    await informant.set_input_files("input[name=screenshot]", str(image))
    await informant.click("button:has-text('提交线索')")
    await informant.wait_for_load_state()
    assert "线索已受理" in await informant.inner_text("main")
    assert "微信家长群：有人称县二幼食堂用过期食材" in await informant.inner_text("aside")
    await informant.click("aside a")
    assert "截图 sha256:" in await informant.inner_text("main")
    assert await informant.locator("section.actions").count() == 0  # an informant reads, staff act
