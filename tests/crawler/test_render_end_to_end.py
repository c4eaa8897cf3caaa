"""``render: true`` and evidence screenshots as a user runs them: ``yuqing check``, ``crawl --once``,
``evidence verify`` and ``evidence export`` as real processes against a loopback site whose list
and article are written by JavaScript."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sqlite3
import sys
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from e2e_site import INSTITUTION, RULES, yuqing
from loopback import Site, wait_for

SAMPLES = Path(__file__).resolve().parents[2] / "test-output" / "browser"
ARTICLE = "/2026/11/30/1.html"
JS_RENDER = """\
  - id: js-render
    type: news
    url: {base}/b/list.html
    render: true
"""  # a source whose list and article are written by scripts
LIST = """<!doctype html><html><head><meta charset="utf-8"><title>化隆新闻</title></head><body>
<ul id="list"></ul><script>
document.getElementById('list').innerHTML = '<li><a href="{prefix}{article}">化隆二幼多名幼儿午餐后不适</a></li>';
</script></body></html>"""
SHELL = """<!doctype html><html><head><meta charset="utf-8"><title>正在加载</title>
<script src="/article.js"></script></head><body><div id="app">加载中……</div></body></html>"""
ARTICLE_JS = """document.addEventListener('DOMContentLoaded', () => {
  document.title = '幼儿园午餐后多名幼儿不适_化隆新闻网';
  document.getElementById('app').innerHTML = '<h1>幼儿园午餐后多名幼儿不适</h1>'
    + '<p class="info">来源：化隆新闻网 2026-11-30 13:05</p>'
    + '<p>有家长反映，化隆二幼多名幼儿午餐后出现呕吐症状，已送医观察。园方表示正在配合调查。</p>'
    + '<p>县城今天天气晴朗，街道整洁，市民在广场上散步，商户照常营业，交通秩序良好。</p>';
});"""


def serve(site: Site) -> None:
    for prefix in ("/a", "/b", "/c"):
        site.add(f"{prefix}/list.html", LIST.format(prefix=prefix, article=ARTICLE))
        site.add(prefix + ARTICLE, SHELL)
    site.add("/article.js", ARTICLE_JS, "application/javascript; charset=utf-8")


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    """The loopback site with the script-written pages (``serve``)."""
    site = await Site().start()
    serve(site)
    yield site
    await site.stop()


def write_config(folder: Path, site: Site, sources: str, browser: str = "{pages: 2, timeout: 20s}") -> None:
    (folder / "keywords").mkdir(parents=True, exist_ok=True)
    (folder / "keywords" / "institution.yaml").write_text(INSTITUTION, encoding="utf-8")
    (folder / "keywords" / "rules.yaml").write_text(RULES, encoding="utf-8")
    (folder / "sources.yaml").write_text(f"""\
timezone: Asia/Shanghai
allow_private_networks: true
windows: always
defaults: {{every: 15m, per_host: 2, delay: 0s, jitter: 0s, retries: 0}}
browser: {browser}
sources:
{sources.format(base=site.base)}""", encoding="utf-8")


async def test_render_source_hit_gets_a_verified_screenshot(site: Site, tmp_path: Path) -> None:
    config, data = tmp_path / "config", tmp_path / "data"
    write_config(config, site, """\
  - id: js-plain
    type: news
    url: {base}/a/list.html
""" + JS_RENDER + """\
    screenshot: true
""")
    code, out, err = await yuqing(config, data, "crawl", "--once")
    assert code == 0, out + err
    code, out, _ = await yuqing(config, data, "hits", "--json")
    hits = json.loads(out)
    # Only the rendered source saw the script-written link and article text.
    assert [(h["url"].removeprefix(site.base), h["rule_id"]) for h in hits] == [("/b" + ARTICLE, "food-safety")]
    assert hits[0]["title"] == "幼儿园午餐后多名幼儿不适"
    assert site.hits.get("/a" + ARTICLE, 0) == 0 and site.hits["/b" + ARTICLE] == 1

    db = sqlite3.connect(data / "yuqing.db")
    ledger = {row[0]: row[1:] for row in db.execute("select source_id, status, new_items from runs")}
    alert_id = db.execute("select id from alerts").fetchone()[0]
    db.close()
    assert ledger == {"js-plain": ("partial", 0), "js-render": ("ok", 1)}  # no article links without scripts

    [manifest_path] = (data / "evidence").glob("*/*.json")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    png = manifest_path.with_suffix(".png")
    assert manifest["screenshot"]["file"] == png.name and png.read_bytes()[:4] == b"\x89PNG"
    SAMPLES.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(png, SAMPLES / "evidence-screenshot.png")

    code, out, err = await yuqing(config, data, "evidence", "verify", str(alert_id))
    assert code == 0 and "证据完好" in out, out + err
    bundle = tmp_path / "e.zip"
    code, out, err = await yuqing(config, data, "evidence", "export", str(alert_id), "--out", str(bundle))
    assert code == 0, out + err
    with zipfile.ZipFile(bundle) as archive:
        assert archive.read("screenshot.png") == png.read_bytes()
        assert "呕吐" in archive.read("text.txt").decode("utf-8")

    original = png.read_bytes()
    png.write_bytes(original[:-20] + bytes(b ^ 0xFF for b in original[-20:]))
    code, out, err = await yuqing(config, data, "evidence", "verify", str(alert_id))
    assert code == 1 and "截图已被改动" in err, out + err


async def test_check_then_try_a_script_written_site(site: Site, tmp_path: Path) -> None:
    """What an operator does first: check the config, then try the site without a config entry."""
    config, data = tmp_path / "config", tmp_path / "data"
    write_config(config, site, JS_RENDER)
    code, out, err = await yuqing(config, data, "check")
    assert code == 0 and "浏览器 browser:" in out and "js-render" in out, out + err
    code, out, err = await yuqing(config, data, "test-source", "--url", f"{site.base}/c/list.html", "--render",
                                  "--json")
    assert code == 0, out + err
    assert [i["title"] for i in json.loads(out)["items"]] == ["幼儿园午餐后多名幼儿不适"]


async def test_missing_chromium_fails_only_the_sources_that_need_it(site: Site, tmp_path: Path) -> None:
    site.add("/plain" + ARTICLE, SHELL.replace("加载中……", "化隆二幼多名幼儿午餐后出现呕吐症状，家长要求说明情况。"))
    site.add("/plain/list.html", LIST.format(prefix="/plain", article=ARTICLE).replace(
        "<ul id=\"list\"></ul>", f'<ul><li><a href="/plain{ARTICLE}">化隆二幼多名幼儿午餐后不适</a></li></ul>'))
    config, data = tmp_path / "config", tmp_path / "data"
    write_config(config, site, JS_RENDER + """\
  - id: shots
    type: news
    url: {base}/plain/list.html
    screenshot: true
""", browser="{executable: /nonexistent/chromium}")
    code, out, err = await yuqing(config, data, "check")
    assert code == 1 and "找不到浏览器 /nonexistent/chromium" in err and "js-render, shots" in err, out + err

    code, out, err = await yuqing(config, data, "crawl", "--once")
    assert code == 0, out + err
    db = sqlite3.connect(data / "yuqing.db")
    ledger = dict(db.execute("select source_id, status from runs").fetchall())
    alert_id = db.execute("select id from alerts").fetchone()[0]
    db.close()
    assert ledger == {"js-render": "failed", "shots": "ok"}
    assert "找不到浏览器" in out  # the reason is in the crawl summary
    # The screenshot could not be taken; the hit and its WARC evidence are whole all the same.
    [manifest_path] = (data / "evidence").glob("*/*.json")
    assert "screenshot" not in json.loads(manifest_path.read_text(encoding="utf-8"))
    code, out, err = await yuqing(config, data, "evidence", "verify", str(alert_id))
    assert code == 0 and "证据完好" in out, out + err


def processes_with(marker: str) -> list[int]:
    """Processes whose environment holds ``marker``: the daemon's Playwright driver and Chromium
    inherit it, and orphans keep it after the daemon has gone."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


async def test_daemon_stop_closes_chromium(site: Site, tmp_path: Path) -> None:
    config, data = tmp_path / "config", tmp_path / "data"
    write_config(config, site, JS_RENDER)
    marker = f"YUQING_TEST_MARK={tmp_path.name}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "crawler.cli", "--config", str(config), "--data", str(data), "run",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "YUQING_TEST_MARK": tmp_path.name})
    try:
        await wait_for(lambda: site.hits.get("/b" + ARTICLE, 0) >= 1, timeout_s=60)
        assert len(processes_with(marker)) >= 3  # the daemon, the driver, Chromium's processes
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    stderr = (await proc.stderr.read()).decode()  # type: ignore[union-attr]
    assert "Traceback" not in stderr and "browser started" in stderr and "browser closed" in stderr, stderr
    await wait_for(lambda: processes_with(marker) == [], timeout_s=5)
