"""End to end: one story on a news page and reposted in a feed → one alert delivered, one
incident with both copies in order; ``yuqing incidents`` shows it and splits a wrong fold."""

from __future__ import annotations

import json
from pathlib import Path

from e2e_site import LIST, alert_posts, article, cli, serve_site, write_config, yuqing
from stories import REPOST, STORY

FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>化隆论坛</title><link>{base}/</link><description>化隆</description>
<item><title>【转】化隆二幼幼儿午餐后呕吐送医</title><link>{base}/bbs/77.html</link>
<description>{text}</description><pubDate>Tue, 24 Nov 2026 12:00:00 GMT</pubDate></item>
</channel></rss>"""


async def test_reposts_fold_into_one_incident_with_its_propagation_path(servers, tmp_path: Path) -> None:
    site, smtp, hook = servers
    serve_site(site, [])
    site.add("/list.html", LIST.format(links='<li><a href="/news/story.html">story</a></li>'))
    site.add("/news/story.html", article("化隆二幼多名幼儿午餐后呕吐", STORY), "text/html")
    site.add("/rss.xml", FEED.format(base=site.base, text=REPOST), "application/rss+xml")
    config, data = tmp_path / "config", tmp_path / "data"
    write_config(config, site, smtp, hook)

    await yuqing(config, data, "crawl", "--once")  # the config's dead source fails; the other two are patrolled
    assert [body["rule_id"] for _, body in alert_posts(hook)] == ["food-safety"]  # one story, one message

    code, out, err = await cli(config, data, "incidents", "list", "--json")
    assert code == 0, err
    [incident] = json.loads(out)
    assert (incident["copies"], incident["sources"], incident["state"], incident["grade"]) == (2, 2, "new", "重大")
    code, out, err = await cli(config, data, "incidents", "show", str(incident["id"]), "--json")
    copies = json.loads(out)["copies"]
    assert {c["url"] for c in copies} == {f"{site.base}/news/story.html", f"{site.base}/bbs/77.html"}
    assert copies[0]["alert_id"] == incident["primary_alert_id"] and copies[0]["found_at"] <= copies[1]["found_at"]
    repost = copies[1]["alert_id"]
    code, text, _ = await cli(config, data, "incidents", "show", str(incident["id"]))
    assert "传播路径" in text and "共 2 处，2 个网站" in text and text.index(copies[0]["url"]) < text.index(copies[1]["url"])

    code, out, _ = await cli(config, data, "alerts", "list", "--json")
    assert [a["id"] for a in json.loads(out)] == [incident["primary_alert_id"]]
    code, out, _ = await cli(config, data, "alerts", "list", "--json", "--reposts")
    assert {a["id"]: a["repost_of"] for a in json.loads(out)} == {incident["primary_alert_id"]: None,
                                                                  repost: incident["primary_alert_id"]}

    assert (await cli(config, data, "users", "add", "小李", "--role", "operator"))[0] == 0
    code, _, err = await cli(config, data, "alerts", "assess", str(repost), "--as", "小李")
    assert code == 1 and f"随主告警 {incident['primary_alert_id']}" in err
    code, out, err = await cli(config, data, "incidents", "split", str(repost), "--as", "小李", "--note", "不同事件")
    assert code == 0 and "已拆分为独立事件" in out, err
    code, out, _ = await cli(config, data, "incidents", "list", "--json")
    assert sorted(i["copies"] for i in json.loads(out)) == [1, 1]
    code, out, _ = await cli(config, data, "alerts", "show", str(repost))
    assert "拆分为独立事件" in out and "不同事件" in out
    assert (await cli(config, data, "audit", "verify"))[0] == 0
