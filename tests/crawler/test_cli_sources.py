"""``yuqing sources``: every configured source with its last run, status, counts and reason."""

from __future__ import annotations

import json
from pathlib import Path

from e2e_site import PAGES, cli, serve_site, write_config, yuqing


async def test_sources_lists_each_source_with_its_last_run(servers, tmp_path: Path) -> None:
    site, smtp, hook = servers
    config, data = tmp_path / "config", tmp_path / "data"
    write_config(config, site, smtp, hook)
    code, out, _ = await cli(config, data, "sources", "--json")
    assert code == 0 and {s["id"]: s["state"] for s in json.loads(out)} == {
        "county-news": "未巡查", "county-rss": "未巡查", "dead-site": "未巡查"}

    serve_site(site, list(PAGES))
    await yuqing(config, data, "crawl", "--once")
    code, out, err = await cli(config, data, "sources", "--json")
    assert code == 0, err
    by_id = {s["id"]: s for s in json.loads(out)}
    assert by_id["county-news"]["state"] == "正常" and by_id["dead-site"]["state"] == "异常"
    news = by_id["county-news"]["last_run"]
    assert (news["status"], news["items"], news["new_items"], news["hits"], news["failed"]) == ("ok", 5, 5, 2, 0)
    dead = by_id["dead-site"]["last_run"]
    assert dead["status"] == "failed" and "连接失败" in dead["error"] and by_id["dead-site"]["failed_runs"] == 1
    assert by_id["county-rss"]["last_run"]["new_items"] == 2 and by_id["county-rss"]["runs"] == 1

    code, out, _ = await cli(config, data, "sources")
    assert code == 0 and "来源 sources" in out and "异常" in out  # the table (cells wrap at the width rich sees)
