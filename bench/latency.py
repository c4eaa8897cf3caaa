"""Alert latency: from a matching page's publication, and from its fetch, to the webhook receiving
the alert, while ``yuqing run`` patrols a loopback news site every 2 s.

Run from the repository root::

    .venv/bin/python bench/latency.py               # 60 alerts (~4 min)
    .venv/bin/python bench/latency.py --alerts 20   # a quick look
    .venv/bin/python bench/latency.py --delay 0s    # without the politeness delay between list and article

This process serves a news site on 127.0.0.2 (a list page of the 10 newest articles, newest first,
and the articles; an access log of every request) and a webhook receiver on 127.0.0.1
(``tests/loopback.WebhookReceiver``, arrival time noted). ``yuqing run`` (the daemon as shipped, its
own process, fresh SQLite data folder) patrols the list with ``windows: always, every: 2s,
jitter: 0s`` and the institution politeness ``per_host: 2, delay: 1s``; alerts go to the webhook.
Five ordinary articles are there from the start; once the first patrol has read them, one matching
article (化隆二幼 children vomiting, rule ``food-safety``, each its own story:
``harness.Stories``) is published every 2–4 s (seeded random gaps, so publications fall at every
phase of the patrol period), ``--alerts`` of them.

Per article, all times on this process's clock (``time.time()``):

* **published** — the moment it was added to the list page;
* **fetched** — the first GET of the article page in the site's access log (yuqing's patrol saw it
  on the list, then waited for its politeness slot on the host);
* **received** — the webhook POST carrying its alert arrived.

Printed: p50/p95/max of received − published (what an operator waits), received − fetched (yuqing's
own work: parse, match, evidence, commit, outbox wake-up, POST) and fetched − published (the patrol
period and the politeness delay). Reference in the same run: the time of one bare webhook POST on
loopback (aiohttp, a new session per POST as the notifier does, the body of a real alert).
Checked: every article alerted exactly once (idempotency keys), nothing else posted but alerts.
Nothing connects outside 127.0.0.0/8 (``harness.guard_loopback_net`` here and in yuqing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import harness

sys.path.insert(0, str(harness.ROOT / "tests"))
from loopback import WebhookReceiver  # tests/ is not a package: on the path above

HOST = "127.0.0.2"
OLD = (1, 2, 3, 4, 5)  # ordinary articles there from the start (site.is_hit false for these)
SHOWN = 10  # articles on the list page
LIST_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>新闻中心_化隆新闻网</title></head><body>
<div class="nav"><a href="/">首页</a> | <a href="/about.html">关于我们</a></div>
<ul class="news-list">{links}</ul><div class="footer">版权所有 化隆新闻网</div></body></html>"""
ARTICLE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}_化隆新闻网</title></head><body>
<div class="nav"><a href="/">首页</a> | <a href="/news/index.html">新闻</a></div>
<div class="article"><h1>{title}</h1><p class="info">来源：化隆新闻网 2026-11-29 10:00</p>
{paragraphs}</div><div class="footer">版权所有 化隆新闻网</div></body></html>"""


def article_path(n: int) -> str:
    return f"/news/2026/11/{n:07d}.html"


class TimedReceiver(WebhookReceiver):
    """The test suite's webhook receiver, noting when each POST arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: list[float] = []

    async def _handle(self, request: Any) -> Any:
        now = time.time()
        response = await super()._handle(request)
        self.arrived.append(now)
        return response


@dataclass
class NewsSite:
    """The list page and its articles; ``publish`` adds one; every request is logged."""

    stories: harness.Stories
    published: dict[int, float] = field(default_factory=dict)  # article number → time published
    log: list[tuple[float, str]] = field(default_factory=list)
    base: str = ""
    runner: Any = None

    def publish(self, n: int) -> None:
        self.published[n] = time.time()

    async def _get(self, request: Any) -> Any:
        from aiohttp import web

        self.log.append((time.time(), request.path))
        if request.path == "/robots.txt":
            return web.Response(text="User-agent: *\nAllow: /\n")
        if request.path == "/news/index.html":
            newest = sorted(self.published, key=self.published.__getitem__, reverse=True)[:SHOWN]
            links = "\n".join(f'<li><a href="{article_path(n)}">{escape(self.stories.title(n))}</a></li>' for n in newest)
            return web.Response(text=LIST_PAGE.format(links=links), content_type="text/html", charset="utf-8")
        for n in self.published:
            if request.path == article_path(n):
                paragraphs = "\n".join(f"<p>{escape(p)}</p>" for p in self.stories.paragraphs(n))
                return web.Response(text=ARTICLE.format(title=escape(self.stories.title(n)), paragraphs=paragraphs),
                                    content_type="text/html", charset="utf-8")
        return web.Response(status=404, text="not found")

    async def start(self) -> NewsSite:
        from aiohttp import web

        app = web.Application()
        app.router.add_get("/{tail:.*}", self._get)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, HOST, 0).start()
        self.base = f"http://{HOST}:{self.runner.addresses[0][1]}"
        return self

    def first_fetch(self, n: int) -> float | None:
        path = article_path(n)
        return next((t for t, p in self.log if p == path), None)


def write_config(folder: Path, site: NewsSite, hook: WebhookReceiver, delay: str) -> None:
    harness.rules_config(folder)
    (folder / "sources.yaml").write_text(f"""\
timezone: Asia/Shanghai
allow_private_networks: true
windows: always
# The institution politeness (per_host 2, delay {delay}); a patrol every 2 s for the benchmark.
defaults: {{every: 2s, per_host: 2, delay: {delay}, jitter: 0s}}
sources:
  - id: county-news
    name: 化隆新闻网
    type: news
    url: {site.base}/news/index.html
""", encoding="utf-8")
    (folder / "alerts.yaml").write_text(f"""\
channels:
  - type: webhook
    name: duty-hook
    url: {hook.url}
    timeout_s: 10
""", encoding="utf-8")


async def bare_post_ms(url: str, body: dict[str, Any], rounds: int = 50) -> list[float]:
    """One webhook POST on loopback, a new session each time (as the notifier sends): ms each."""
    import aiohttp

    out = []
    for _ in range(rounds):
        started = time.perf_counter()
        async with aiohttp.ClientSession() as session, session.post(url, json=body) as resp:
            await resp.read()
        out.append((time.perf_counter() - started) * 1000)
    return out


async def wait_until(predicate: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def summary(values: list[float]) -> list[str]:
    return [f"{harness.percentile(values, 50):.2f}", f"{harness.percentile(values, 95):.2f}", f"{max(values):.2f}"]


async def conduct(args: argparse.Namespace) -> int:
    harness.guard_loopback_net()
    print(f"machine: {harness.bench_module('crawl').describe_machine()}", flush=True)
    stories = harness.Stories()
    hits = [n for n in range(10_000) if stories.is_hit(n)][: args.alerts]
    site = await NewsSite(stories).start()
    hook = await TimedReceiver().start()
    work = Path(tempfile.mkdtemp(prefix="yuqing-bench-latency-"))
    config, data = work / "config", work / "data"
    write_config(config, site, hook, args.delay)
    for n in OLD:
        site.publish(n)
    print(f"site {site.base}, webhook {hook.url}; yuqing run: every 2s, per_host 2, delay {args.delay}; "
          f"{len(hits)} matching articles; work folder {work}", flush=True)
    child = harness.Child(["--config", str(config), "--data", str(data), "run"], work / "yuqing.log").start()
    rng = random.Random(7)
    checks: list[str] = []
    try:
        if not await wait_until(lambda: all(site.first_fetch(n) for n in OLD), 120):
            raise SystemExit(f"yuqing did not read the first list within 120 s; see {work / 'yuqing.log'}")
        await asyncio.sleep(1.0)
        for k, n in enumerate(hits):
            site.publish(n)
            if k + 1 < len(hits):
                await asyncio.sleep(rng.uniform(2.0, 4.0))
        if not await wait_until(lambda: len(hook.received) >= len(hits), 60):
            checks.append(f"only {len(hook.received)} of {len(hits)} alerts within 60 s of the last publication")
        await asyncio.sleep(2.0)  # a duplicate would arrive now
    finally:
        await asyncio.to_thread(child.stop)
        await asyncio.to_thread(child.wait)
    received, arrivals = list(hook.received), list(hook.arrived)  # before the reference posts add theirs
    reference = await bare_post_ms(hook.url, received[0][1] if received else {"type": "alert"})
    await hook.stop()
    await site.runner.cleanup()

    by_path: dict[str, float] = {}
    for (headers, body), arrived in zip(received, arrivals):
        if body.get("type") != "alert":
            checks.append(f"unexpected post: {body.get('type')} {body.get('kind', '')}")
            continue
        path = "/" + body["url"].split("/", 3)[3]
        if path in by_path:
            checks.append(f"alert for {path} received twice")
        by_path.setdefault(path, arrived)
    keys = {headers.get("Idempotency-Key") for headers, _ in received}
    if len(keys) != len(received):
        checks.append(f"{len(received)} posts, {len(keys)} idempotency keys")
    from_pub, from_fetch, wait = [], [], []
    for n in hits:
        arrived, fetched = by_path.get(article_path(n)), site.first_fetch(n)
        if arrived is None or fetched is None:
            checks.append(f"article {n}: fetched {fetched is not None}, alerted {arrived is not None}")
            continue
        from_pub.append(arrived - site.published[n])
        from_fetch.append(arrived - fetched)
        wait.append(fetched - site.published[n])
    rss = child.rss(after_s=10.0)
    print(f"  {len(from_pub)} alerts measured; yuqing run peak RSS {rss['peak']:.0f} MB, median {rss['median']:.0f} MB; "
          + ("ok" if not checks else "FAILED: " + "; ".join(checks[:5])), flush=True)
    print()
    rows = []
    if from_pub:
        rows = [["received − published (operator's wait)", len(from_pub), *summary(from_pub)],
                ["received − fetched (yuqing's own work)", len(from_fetch), *summary(from_fetch)],
                ["fetched − published (patrol period + politeness)", len(wait), *summary(wait)]]
    rows.append(["reference: one bare webhook POST on loopback", len(reference),
                 *(f"{v / 1000:.3f}" for v in (harness.percentile(reference, 50), harness.percentile(reference, 95),
                                               max(reference)))])
    print(harness.markdown_table(["latency, seconds", "n", "p50", "p95", "max"], rows))
    print(f"\nchecks: {'ok — every article alerted exactly once' if not checks else 'FAILED'}")
    if args.json:
        Path(args.json).write_text(json.dumps({"from_published": from_pub, "from_fetched": from_fetch,
                                               "reference_ms": reference, "checks": checks}), encoding="utf-8")
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if not checks else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=60, help="matching articles published (default 60)")
    parser.add_argument("--delay", default="1s", help="politeness delay between two requests to the site (default 1s)")
    parser.add_argument("--json", help="write every latency as JSON to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (config, database, log)")
    args = parser.parse_args()
    sys.exit(asyncio.run(conduct(args)))


if __name__ == "__main__":
    main()
