"""The daemon's start-up catch-up and hot reload, in process, against a loopback site."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from e2e_site import serve_site, write_config
from crawler.app import App
from crawler.config.loader import load_config
from crawler.daemon import Daemon
from storage import queries

SH = ZoneInfo("Asia/Shanghai")


def _windows_config(folder: Path, site, smtp, hook) -> None:
    """Three sources: window open all day, a window that opens in two hours, and one more all-day."""
    write_config(folder, site, smtp, hook, every="1h")
    later = datetime.now(SH) + timedelta(hours=2)
    text = (folder / "sources.yaml").read_text(encoding="utf-8").replace("windows: always\n", 'windows: ["00:00-24:00"]\n')
    text = text.replace("  - id: county-rss\n", f'  - id: county-rss\n    windows: ["{later:%H:%M}-{later + timedelta(minutes=30):%H:%M}"]\n')
    text = text.replace("    url: http://127.0.0.1:9/rss.xml\n", f"    url: {site.base}/rss.xml\n")
    (folder / "sources.yaml").write_text(text, encoding="utf-8")


async def test_catch_up_runs_each_open_unpatrolled_window_once(servers, tmp_path: Path) -> None:
    site, smtp, hook = servers
    serve_site(site, ["/news/4.html"])
    _windows_config(tmp_path / "config", site, smtp, hook)
    config = load_config(tmp_path / "config")
    app = await App.open(config, f"sqlite+aiosqlite:///{tmp_path / 'y.db'}", tmp_path)
    try:
        daemon = Daemon(app, tmp_path / "config")
        news, rss, dead = config.enabled_sources()
        today = datetime.now(SH).replace(hour=0, minute=0, second=0, microsecond=0)
        # the dead source's run of this window was interrupted: it does not count as a patrol
        async with app.sessions() as session:
            await queries.start_run(session, dead.id, "window", datetime.now(timezone.utc), today, today + timedelta(days=1))
            assert await queries.abort_stale_runs(session, datetime.now(timezone.utc)) == 1
        for source in (news, rss, dead, news, rss, dead):
            await daemon._catch_up(source)
        async with app.sessions() as session:
            runs = await queries.list_runs(session)
    finally:
        await app.close()
    catchups = sorted((r.source_id, r.window_start) for r in runs if r.trigger == "catchup")
    assert catchups == [("county-news", today), ("dead-site", today)]  # once each; the closed window never


async def test_reload_keeps_last_good_config(servers, tmp_path: Path, caplog) -> None:
    site, smtp, hook = servers
    folder = tmp_path / "config"
    write_config(folder, site, smtp, hook)
    app = await App.open(load_config(folder), f"sqlite+aiosqlite:///{tmp_path / 'y.db'}", tmp_path)
    try:
        daemon = Daemon(app, folder)
        good = (folder / "sources.yaml").read_text(encoding="utf-8")
        (folder / "sources.yaml").write_text(good.replace("type: rss", "type: rsss", 1), encoding="utf-8")
        daemon.reload()
        assert [s.id for s in app.config.enabled_sources()] == ["county-news", "county-rss", "dead-site"]
        assert "reload failed" in caplog.text and "sources[1].type" in caplog.text
        (folder / "sources.yaml").write_text(good.replace("  - id: dead-site", "  - id: dead-site\n    enabled: false"),
                                             encoding="utf-8")
        daemon.reload()
        assert [s.id for s in app.config.enabled_sources()] == ["county-news", "county-rss"]
        assert sorted(job.id for job in daemon.scheduler.get_jobs()) == ["county-news", "county-rss"]
    finally:
        await app.close()


async def test_a_broken_source_gives_one_health_alert_and_one_recovery_note(servers, tmp_path: Path) -> None:
    site, smtp, hook = servers
    serve_site(site, ["/news/4.html"])
    write_config(tmp_path / "config", site, smtp, hook)
    app = await App.open(load_config(tmp_path / "config"), f"sqlite+aiosqlite:///{tmp_path / 'y.db'}", tmp_path)
    news = app.config.enabled_sources()[0]
    list_page = site.pages["/list.html"]
    try:
        await app.patrol(news, "window")  # healthy: nothing to say
        site.add("/list.html", "<html><title>百度安全验证</title><body>请完成验证</body></html>")  # redesign/wall
        for _ in range(3):
            await app.patrol(news, "window")
        site.pages["/list.html"] = list_page
        await app.patrol(news, "window")
        await app.patrol(news, "window")
        await app.outbox.drain_once()
    finally:
        await app.close()
    notices = [body for _, body in hook.received if body["type"] == "source_health"]
    assert [n["kind"] for n in notices] == ["source_down", "source_up"]
    assert notices[0]["source_id"] == "county-news" and "link_selector" in notices[0]["message"]
    subjects = sorted(str(m["Subject"]) for m in smtp.messages)
    assert len(subjects) == 2
    assert subjects[0].startswith("【来源异常】化隆新闻网：") and subjects[1].startswith("【来源恢复】化隆新闻网：")
