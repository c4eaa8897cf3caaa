"""The whole pipeline as a user runs it: ``yuqing crawl --once`` / ``yuqing run`` as real processes,
against a loopback news site and feed, a real SMTP server and a real webhook receiver."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import sys
from pathlib import Path

import pytest
from e2e_site import (
    EXPECTED,
    PAGES,
    alert_mails,
    alert_posts,
    notice_posts,
    serve_site,
    write_config,
    yuqing,
)
from loopback import wait_for


@pytest.mark.parametrize("parse_workers", ["auto", "2"])  # "2": every page parsed in a worker process
async def test_crawl_once_finds_exactly_the_right_hits_and_delivers(servers, tmp_path: Path, parse_workers: str) -> None:
    site, smtp, hook = servers
    serve_site(site, list(PAGES))
    config, data = tmp_path / "config", tmp_path / "data"
    write_config(config, site, smtp, hook, parse_workers=parse_workers)

    code, out, err = await yuqing(config, data, "check")
    assert code == 0, out + err
    assert "county-news" in out and "food-safety" in out

    code, out, err = await yuqing(config, data, "crawl", "--once")
    assert code == 0, out + err
    assert "dead-site" in out  # the dead source is reported, the others still ran
    assert ("parse workers starting workers=2" in err) == (parse_workers == "2")

    code, out, _ = await yuqing(config, data, "hits", "--json")
    hits = json.loads(out)
    assert {(h["url"].removeprefix(site.base), h["rule_id"]) for h in hits} == EXPECTED
    by_url = {h["url"].removeprefix(site.base): h for h in hits}
    assert by_url["/news/1.html"]["grade"] == "重大" and by_url["/news/1.html"]["category"] == "安全生产"
    assert set(by_url["/news/1.html"]["terms"]) == {"化隆二幼", "呕吐"}
    assert "呕吐" in by_url["/news/1.html"]["snippet"]
    assert by_url["/news/5.html"]["title"] == "家长：孩子腹泻不止"  # the GBK page decoded

    assert len(alert_mails(smtp)) == 3 and len(alert_posts(hook)) == 3
    assert sorted(h["Idempotency-Key"] for h, _ in alert_posts(hook)) == sorted(
        m["X-Yuqing-Idempotency-Key"] for m in alert_mails(smtp))
    assert {body["url"].removeprefix(site.base) for _, body in alert_posts(hook)} == {u for u, _ in EXPECTED}
    assert notice_posts(hook) == [("dead-site", "source_down")] and len(smtp.messages) == 4
    subjects = " ".join(str(m["Subject"]) for m in alert_mails(smtp))
    assert "重大" in subjects and "一般" in subjects

    # A second patrol: nothing new is fetched again, matched again or sent again.
    code, out, err = await yuqing(config, data, "crawl", "--once")
    assert code == 0, out + err
    assert all(site.hits[p] == 1 for p in PAGES)
    assert len(smtp.messages) == 4 and len(hook.received) == 4  # nothing again, not even the notice

    ledger = sqlite3.connect(data / "yuqing.db").execute(
        "select source_id, status, new_items from runs order by id").fetchall()
    assert ("dead-site", "failed", 0) in ledger and ("county-news", "ok", 5) in ledger


async def test_dead_channels_wait_and_deliver_later(servers, tmp_path: Path) -> None:
    site, smtp, hook = servers
    serve_site(site, ["/news/1.html"])
    config, data = tmp_path / "config", tmp_path / "data"
    write_config(config, site, smtp, hook)
    hook.status = 500
    smtp.stop()  # the mail server is down
    code, out, err = await yuqing(config, data, "crawl", "--once")
    assert code == 0, out + err
    assert "pending 6" in out  # two alerts (page and feed entry) and the dead source's notice, two channels each
    assert hook.received == []
    hook.status = 200
    smtp.start()
    db = sqlite3.connect(data / "yuqing.db")
    db.execute("update deliveries set next_attempt_at = '2000-01-01 00:00:00'")  # skip the backoff wait
    db.commit()
    db.close()
    code, out, err = await yuqing(config, data, "crawl", "--once")
    assert code == 0, out + err
    assert len(alert_posts(hook)) == 2 and len(alert_mails(smtp)) == 2 and len(hook.received) == 3
    assert "pending 0" in out


async def test_daemon_patrols_new_pages_and_stops_gracefully(servers, tmp_path: Path) -> None:
    site, smtp, hook = servers
    serve_site(site, ["/news/4.html"])
    config, data = tmp_path / "config", tmp_path / "data"
    write_config(config, site, smtp, hook, every="1s")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "crawler.cli", "--config", str(config), "--data", str(data), "run",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        await wait_for(lambda: site.hits.get("/news/4.html", 0) >= 1, timeout_s=60)  # start-up on a busy machine
        serve_site(site, ["/news/4.html", "/news/1.html"])  # a new matching page appears
        def rules_delivered() -> list[str]:
            return sorted(body["rule_id"] for _, body in alert_posts(hook))

        await wait_for(lambda: rules_delivered() == ["fees", "food-safety"] and len(alert_mails(smtp)) == 2,
                       timeout_s=60)
        # edits are picked up without a restart; a broken edit is refused and the last good config kept
        sources = (config / "sources.yaml").read_text(encoding="utf-8")
        (config / "sources.yaml").write_text(sources.replace("type: rss", "type: rsss", 1), encoding="utf-8")
        rules = (config / "keywords" / "rules.yaml").read_text(encoding="utf-8")
        (config / "keywords" / "rules.yaml").write_text(rules + """\
  - id: roads
    category: 其他
    any: [道路改造]
    grade: 一般
""", encoding="utf-8")
        await asyncio.sleep(1.5)
        (config / "sources.yaml").write_text(sources, encoding="utf-8")
        await asyncio.sleep(1.5)
        site.add("/news/6.html", PAGES["/news/4.html"].replace("城区道路改造完成", "城东道路改造开工"))
        serve_site(site, ["/news/4.html", "/news/1.html"])
        site.pages["/list.html"].body = site.pages["/list.html"].body.replace(
            b"</ul>", b'<li><a href="/news/6.html">6</a></li></ul>')
        await wait_for(lambda: rules_delivered() == ["fees", "food-safety", "roads"], timeout_s=60)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    stderr = (await proc.stderr.read()).decode()
    assert "Traceback" not in stderr, stderr
    assert "fetch source=county-news" in stderr and "status=200" in stderr
    assert "reload failed" in stderr and "config reloaded" in stderr
    runs = sqlite3.connect(data / "yuqing.db").execute(
        "select count(*), count(distinct source_id) from runs where status in ('ok', 'failed')").fetchone()
    assert runs[0] >= 3 and runs[1] == 3


async def test_same_pipeline_on_postgresql(servers, tmp_path: Path, pg_cluster) -> None:
    site, smtp, hook = servers
    serve_site(site, list(PAGES))
    config, data = tmp_path / "config", tmp_path / "data"
    write_config(config, site, smtp, hook)
    name = f"e2e_{tmp_path.name[-8:].replace('-', '_').lower()}"
    pg_cluster.create_database(name)
    try:
        db = ("--db", pg_cluster.url(name))
        for _ in range(2):  # the second patrol adds nothing
            code, out, err = await yuqing(config, data, *db, "crawl", "--once")
            assert code == 0, out + err
        code, out, _ = await yuqing(config, data, *db, "hits", "--json")
        assert {(h["url"].removeprefix(site.base), h["rule_id"]) for h in json.loads(out)} == EXPECTED
        assert len(alert_mails(smtp)) == 3 and len(alert_posts(hook)) == 3
        assert not (data / "yuqing.db").exists()
    finally:
        pg_cluster.drop_database(name)


async def test_evidence_survives_deletion_and_shows_tampering(servers, tmp_path: Path) -> None:
    site, smtp, hook = servers
    serve_site(site, ["/news/1.html"])
    config, data = tmp_path / "config", tmp_path / "data"
    write_config(config, site, smtp, hook)
    code, out, err = await yuqing(config, data, "crawl", "--once", "--source", "county-news")
    assert code == 0, out + err
    site.add("/news/1.html", "deleted", status=404)  # the author deleted the post
    alert_id = sqlite3.connect(data / "yuqing.db").execute("select id from alerts").fetchone()[0]
    code, out, err = await yuqing(config, data, "evidence", "verify", str(alert_id))
    assert code == 0 and "证据完好" in out, out + err
    code, out, err = await yuqing(config, data, "evidence", "export", str(alert_id), "--out", str(tmp_path / "e.zip"))
    assert code == 0 and (tmp_path / "e.zip").stat().st_size > 500, out + err
    [warc] = (data / "evidence").glob("*/*.warc.gz")
    raw = bytearray(warc.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    warc.write_bytes(bytes(raw))
    code, out, err = await yuqing(config, data, "evidence", "verify", str(alert_id))
    assert code == 1 and "WARC" in err, out + err


async def test_test_source_shows_items_without_touching_the_database(servers, tmp_path: Path) -> None:
    site, smtp, hook = servers
    serve_site(site, ["/news/1.html", "/news/4.html", "/news/5.html"])
    config, data = tmp_path / "config", tmp_path / "data"
    write_config(config, site, smtp, hook)
    code, out, err = await yuqing(config, data, "test-source", "county-news", "--json")
    assert code == 0, out + err
    probe = json.loads(out)
    by_path = {i["url"].removeprefix(site.base): i for i in probe["items"]}
    assert set(by_path) == {"/news/1.html", "/news/4.html", "/news/5.html"}
    assert by_path["/news/5.html"]["title"] == "家长：孩子腹泻不止" and by_path["/news/5.html"]["rules"] == ["food-safety"]
    assert by_path["/news/4.html"]["rules"] == [] and "通行能力提升" in by_path["/news/4.html"]["text"]
    assert not (data / "yuqing.db").exists() and smtp.messages == [] and hook.received == []
    # an ad-hoc URL with the automatic news adapter, and a dead one failing clearly
    code, out, err = await yuqing(config, data, "test-source", "--url", f"{site.base}/rss.xml", "--type", "rss", "--json")
    assert code == 0 and len(json.loads(out)["items"]) == 2, out + err
    code, out, err = await yuqing(config, data, "test-source", "dead-site", "--json")
    assert code == 1 and json.loads(out)["status"] == "failed"


async def test_rules_backtest_shows_what_an_edit_would_change(servers, tmp_path: Path) -> None:
    site, smtp, hook = servers
    serve_site(site, list(PAGES))
    config, data = tmp_path / "config", tmp_path / "data"
    write_config(config, site, smtp, hook)
    code, out, err = await yuqing(config, data, "crawl", "--once")
    assert code == 0, out + err
    rules = config / "keywords" / "rules.yaml"
    edited = rules.read_text(encoding="utf-8").replace("any: [乱收费]", "any: [乱收费]\n    not: [兴趣班]")
    rules.write_text(edited + "  - id: roads\n    category: 其他\n    any: [道路改造]\n", encoding="utf-8")
    code, out, err = await yuqing(config, data, "rules", "backtest", "--since", "30d", "--json")
    assert code == 0, out + err
    result = json.loads(out)
    changes = {c["url"].removeprefix(site.base): (c["new"], c["gone"]) for c in result["changes"]}
    assert changes == {"/news/4.html": (["roads"], []), "/feed/a.html": ([], ["fees"])}
    assert result["summary"]["items"] == 7 and len(hook.received) == 4  # nothing sent by a backtest
