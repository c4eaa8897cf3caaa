"""Fault injection end to end: one patrol of sixteen hostile sources beside a good one.

``yuqing crawl --once`` runs as a real process against ``tests/hostile.py`` on 127.0.0.2 (and
the good site on 127.0.0.1), with ``allow_private_networks: [127.0.0.0/8]`` so that the guard
really refuses the redirects to 10.0.0.1 and 169.254.169.254. Every fetch must end within its
limits, every hostile source must be recorded with a clear reason, memory must stay bounded, and
the good source's alert must be delivered.
"""

from __future__ import annotations

import asyncio
import resource
import sqlite3
import sys
import time
from pathlib import Path

from e2e_site import INSTITUTION, RULES, alert_posts, serve_site
from hostile import Hostile, bomb

# source id → (type, path, what its run must say: status and a piece of its recorded reason)
EXPECTED = {
    "slowloris": ("news", "slowloris", "failed", "超时"),
    "endless": ("news", "endless", "failed", "过大"),
    "bomb": ("news", "bomb", "failed", "过大"),
    "liar": ("news", "liar", "failed", "连接中断"),
    "huge": ("news", "huge", "failed", "过大"),
    "loop": ("news", "loop", "failed", "重定向过多"),
    "metadata": ("news", "metadata", "failed", "拒绝访问内网地址 private address 169.254.169.254"),
    "intranet": ("news", "intranet", "failed", "拒绝访问内网地址 private address 10.0.0.1"),
    "broken-rss": ("rss", "broken.rss", "ok", ""),  # the entries before the cut still count
    "nested": ("news", "nested", "partial", "没有识别出文章链接"),  # parsed, found no links, said so
    "binary": ("news", "binary", "partial", "没有识别出文章链接"),
    "reset": ("news", "reset", "failed", "连接中断"),
    "throttle": ("news", "throttle", "failed", "429"),
    "storm": ("news", "storm", "failed", "503"),
}


def config(folder: Path, site_base: str, hostile: Hostile, hook_url: str) -> None:
    (folder / "keywords").mkdir(parents=True)
    (folder / "keywords" / "institution.yaml").write_text(INSTITUTION, encoding="utf-8")
    (folder / "keywords" / "rules.yaml").write_text(RULES, encoding="utf-8")
    sources = [f"  - {{id: good, type: html, url: '{site_base}/list.html', link_selector: 'ul.news-list a'}}"]
    for source, (kind, path, *_) in EXPECTED.items():
        sources.append(f"  - {{id: {source}, type: {kind}, url: '{hostile.url(path)}'}}")
    # two matching articles whose charset label lies (UTF-8 declared, GBK sent, and the reverse)
    sources.append(f"  - {{id: charsets, type: html, url: '{hostile.url('charsets')}', link_selector: a}}")
    (folder / "sources.yaml").write_text("""\
timezone: Asia/Shanghai
allow_private_networks: ["127.0.0.0/8"]
windows: always
defaults: {every: 15m, per_host: 16, delay: 0s, jitter: 0s, retries: 1, timeout: 3s, max_body: 1048576}
sources:
""" + "\n".join(sources) + "\n", encoding="utf-8")
    (folder / "alerts.yaml").write_text(f"channels:\n  - {{type: webhook, name: hook, url: '{hook_url}', timeout_s: 5}}\n",
                                        encoding="utf-8")


async def test_hostile_sources_fail_cleanly_and_the_good_one_is_patrolled(servers, tmp_path: Path) -> None:
    site, _, hook = servers
    serve_site(site, ["/news/1.html"])
    await asyncio.to_thread(bomb)  # built before the clock starts
    hostile = await Hostile().start()
    try:
        folder, data = tmp_path / "config", tmp_path / "data"
        config(folder, site.base, hostile, hook.url)
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "crawler.cli", "--config", str(folder), "--data", str(data), "crawl", "--once",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(proc.communicate(), 120)
        elapsed = time.monotonic() - started
    finally:
        await hostile.stop()
    log = err.decode()
    assert "Traceback" not in log and (data / "yuqing.db").exists(), log[-4000:]
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"hostile patrol: {elapsed:.1f} s, peak RSS {peak_mb:.0f} MB")
    assert elapsed < 90  # the slowest source is bounded by its timeout × (1 + retries), not by the server
    assert peak_mb < 500  # nothing of the 2 GB, endless or 64 MB bodies was held in memory

    runs = {source: (status, error or "") for source, status, error in sqlite3.connect(data / "yuqing.db").execute(
        "select source_id, status, error from runs")}
    assert set(runs) == {"good", "charsets", *EXPECTED}  # every source's run finished and was recorded
    for source, (*_, status, reason) in EXPECTED.items():
        assert runs[source][0] == status and reason in runs[source][1], (source, runs[source])
    assert runs["good"] == runs["charsets"] == ("ok", "")
    delivered = sorted((body["source_id"], body["url"].rsplit("/", 1)[1]) for _, body in alert_posts(hook))
    assert delivered == [("charsets", "gbk-as-utf8"), ("charsets", "utf8-as-gbk"), ("good", "1.html")]
