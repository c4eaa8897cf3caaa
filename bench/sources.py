"""Many sources in one window: ``yuqing crawl --once`` over 1,000 (or 10,000) sources spread over
hundreds of loopback addresses, with the institution's politeness, measured for time, correctness
and memory.

Run from the repository root::

    .venv/bin/python bench/sources.py                        # 1,000 sources (~1 min on 2 cores)
    .venv/bin/python bench/sources.py --sources 1000,10000   # both, one table
    .venv/bin/python bench/sources.py --sources 200 --keep   # a quick look; keep config, DB and logs
    .venv/bin/python bench/sources.py --migrated             # the database created beforehand (a restart)

The sites (``python bench/sources.py _serve``, their own process): ``--per-host`` sources (default
4) on each address 127.0.0.2, 127.0.0.3, … — one aiohttp site per address, so that yuqing's
per-host limits act as they would across real sites. Even sources are RSS feeds of 5 items (full
text in the feed: no article fetched), odd ones small news list pages of 3 article links (each
article fetched). The texts are headlines and sentences of the real fixture pages
(``harness.Stories``); item ``n`` reports that 化隆二幼 children vomited iff ``site.is_hit(n)``
(rule ``food-safety``, ~1 %), and ~1 % more mention a drill the rule excludes. Every hit is its own
story (no two fold into one incident), so hits = alerts = webhook posts.

yuqing runs as shipped, in its own process, on a fresh data folder (SQLite; with ``--migrated``
the database is created by ``yuqing db upgrade`` first, as at every start but the first, so that
the migration tool is not loaded in the measured process): one run of every
source at once — what a window's opening is for the daemon — with **the institution default
politeness ``per_host: 2, delay: 1s``** (retries 2, timeouts as built in), ``max_items`` 50,
alerts to a webhook on the first address. Wall clock from process start to exit.

Checked before the figures are printed: every feed, list page and article fetched exactly once and
nothing else but one robots.txt per address; the items stored, hits, alerts and webhook posts
equal to the known counts; every run ``ok``. Also printed: first→last request at the sites (the
patrol's span, to compare with a 60-minute window), the smallest gap between two requests to one
address (politeness kept: ≈ the delay), the peak RSS of the yuqing process (kernel high-water
mark) and its median while crawling (sampled every 0.25 s from outside, start-up left out), and
the RSS of a bare ``import jieba; jieba.initialize()`` process as the floor.

Memory is that of the **whole process tree**: yuqing may start child processes (parse workers,
``crawler/parsing.py``; Chromium for ``render: true`` sources). At each sample every descendant
of the yuqing process is found (``/proc/PID/task/*/children``) and its PSS read from
``/proc/PID/smaps_rollup`` (its own pages plus its share of the pages it shares, so that libraries
mapped by every worker count once in all). Printed apart: the yuqing process's RSS as before, the
most child processes seen at once, the children's summed PSS (peak and median) and the median of
the tree (yuqing's RSS + the children's PSS, per sample).
Nothing connects outside 127.0.0.0/8 (``harness.guard_loopback_net`` in every process).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import harness

RSS_ITEMS, NEWS_ITEMS = 5, 3
DEFAULT_PER_HOST = 4


@dataclass(frozen=True)
class Layout:
    """Which source lives where and what it holds: the same in the sites and the conductor."""

    sources: int
    per_host: int

    @property
    def hosts(self) -> list[str]:
        return harness.loopback_addresses(math.ceil(self.sources / self.per_host))

    def host_of(self, i: int) -> int:
        return i // self.per_host

    @staticmethod
    def is_feed(i: int) -> bool:
        return i % 2 == 0

    @staticmethod
    def start_path(i: int) -> str:
        return f"/s{i}/rss.xml" if Layout.is_feed(i) else f"/s{i}/index.html"

    @staticmethod
    def items(i: int) -> list[int]:
        """The item numbers of source ``i`` (its feed entries or its articles)."""
        return [i * RSS_ITEMS + j for j in range(RSS_ITEMS if Layout.is_feed(i) else NEWS_ITEMS)]

    @staticmethod
    def article_path(i: int, n: int) -> str:
        return f"/s{i}/2026/11/{n:07d}.html"

    def expected_paths(self) -> dict[tuple[int, str], int]:
        """(host index, path) → 1 for every page a correct patrol fetches (robots.txt apart)."""
        out: dict[tuple[int, str], int] = {}
        for i in range(self.sources):
            out[(self.host_of(i), self.start_path(i))] = 1
            if not self.is_feed(i):
                for n in self.items(i):
                    out[(self.host_of(i), self.article_path(i, n))] = 1
        return out


# --- the sites (their own process) -----------------------------------------------------------------

ARTICLE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}_{site}</title></head><body>
<div class="nav"><a href="/">首页</a> | <a href="/s{i}/index.html">新闻</a> | <a href="/about.html">关于我们</a></div>
<div class="article"><h1>{title}</h1><p class="info">来源：{site} 2026-11-{day:02d} 10:{minute:02d}</p>
{paragraphs}</div><div class="footer">版权所有 {site}</div></body></html>"""
LIST = """<!doctype html><html><head><meta charset="utf-8"><title>新闻中心_{site}</title></head><body>
<div class="nav"><a href="/">首页</a> | <a href="/about.html">关于我们</a></div>
<ul class="news-list">{links}</ul><div class="footer">版权所有 {site}</div></body></html>"""
FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{site} RSS</title><link>{base}/</link><description>{site}</description>
{entries}</channel></rss>"""


class Pages:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.stories = harness.Stories()

    def site_name(self, i: int) -> str:
        return f"第{self.layout.host_of(i) + 1}号新闻网"

    def article(self, i: int, n: int) -> bytes:
        paragraphs = "\n".join(f"<p>{escape(p)}</p>" for p in self.stories.paragraphs(n))
        return ARTICLE.format(title=escape(self.stories.title(n)), site=self.site_name(i), i=i, day=1 + n % 28,
                              minute=n % 60, paragraphs=paragraphs).encode()

    def listing(self, i: int) -> bytes:
        links = "\n".join(f'<li><a href="{self.layout.article_path(i, n)}">{escape(self.stories.title(n))}</a></li>'
                          for n in self.layout.items(i))
        return LIST.format(site=self.site_name(i), links=links).encode()

    def feed(self, i: int, base: str) -> bytes:
        now = datetime.now(UTC)
        entries = "\n".join(
            f"<item><title>{escape(self.stories.title(n))}</title><link>{base}{self.layout.article_path(i, n)}</link>"
            f"<description>{escape(''.join(self.stories.paragraphs(n)))}</description>"
            f"<pubDate>{format_datetime(now)}</pubDate></item>" for n in self.layout.items(i))
        return FEED.format(site=self.site_name(i), base=base, entries=entries).encode()


async def serve(layout: Layout) -> None:
    from aiohttp import web

    pages = Pages(layout)
    hosts = layout.hosts
    index = {host: k for k, host in enumerate(hosts)}
    requests: dict[tuple[int, str], int] = {}
    arrivals: dict[int, list[float]] = {}
    hook = {"alert": 0, "notice": 0, "keys": set()}  # type: ignore[var-annotated]
    ports: dict[int, int] = {}

    async def get(request: web.Request) -> web.Response:
        k = index.get(request.url.host or "", -1)
        now = time.time()
        path = request.path
        if path == "/_stats" and k == 0:
            return web.json_response(stats())
        requests[(k, path)] = requests.get((k, path), 0) + 1
        arrivals.setdefault(k, []).append(now)
        parts = path.split("/")
        if path == "/robots.txt":
            return web.Response(text="User-agent: *\nAllow: /\n")
        if len(parts) >= 3 and parts[1].startswith("s") and parts[1][1:].isdigit():
            i = int(parts[1][1:])
            if i < layout.sources and layout.host_of(i) == k:
                if path == layout.start_path(i):
                    if layout.is_feed(i):
                        body = pages.feed(i, f"http://{hosts[k]}:{ports[k]}")
                        return web.Response(body=body, content_type="application/rss+xml", charset="utf-8")
                    return web.Response(body=pages.listing(i), content_type="text/html", charset="utf-8")
                for n in layout.items(i):
                    if not layout.is_feed(i) and path == layout.article_path(i, n):
                        return web.Response(body=pages.article(i, n), content_type="text/html", charset="utf-8")
        return web.Response(status=404, text="not found")

    async def post_hook(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        if body.get("type") == "alert":
            hook["alert"] += 1
            hook["keys"].add(request.headers.get("Idempotency-Key"))
        else:
            hook["notice"] += 1
        return web.json_response({"ok": True})

    def stats() -> dict[str, object]:
        expected = layout.expected_paths()
        once = sum(1 for key in expected if requests.get(key) == 1)
        never = sum(1 for key in expected if key not in requests)
        repeated = sum(1 for key in expected if requests.get(key, 0) > 1)
        robots = [requests.get((k, "/robots.txt"), 0) for k in range(len(hosts))]
        unexpected = sum(c for key, c in requests.items() if key not in expected and key[1] != "/robots.txt")
        gaps = [b - a for times in arrivals.values() for a, b in itertools.pairwise(sorted(times))]
        every = [t for times in arrivals.values() for t in times]
        return {"expected": len(expected), "once": once, "never": never, "repeated": repeated,
                "unexpected": unexpected, "robots_once": sum(1 for r in robots if r == 1), "hosts": len(hosts),
                "requests": sum(requests.values()), "min_gap_s": min(gaps) if gaps else None, "gaps": len(gaps),
                "gaps_under_half_s": sum(1 for g in gaps if g < 0.5),
                "first": min(every) if every else None, "last": max(every) if every else None,
                "hook_alerts": hook["alert"], "hook_keys": len(hook["keys"]), "hook_notices": hook["notice"]}

    app = web.Application()
    app.router.add_post("/hook", post_hook)
    app.router.add_get("/{tail:.*}", get)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    for k, host in enumerate(hosts):
        site = web.TCPSite(runner, host, 0, backlog=256)
        await site.start()
        ports[k] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print("READY " + json.dumps([f"http://{host}:{ports[k]}" for k, host in enumerate(hosts)]), flush=True)
    await asyncio.Event().wait()


# --- the conductor ---------------------------------------------------------------------------------

def write_config(folder: Path, layout: Layout, bases: list[str]) -> None:
    harness.rules_config(folder)
    lines = []
    for i in range(layout.sources):
        kind = "rss" if layout.is_feed(i) else "news"
        lines.append(f"  - id: src-{i:05d}\n    name: 来源{i}\n    type: {kind}\n"
                     f"    url: {bases[layout.host_of(i)]}{layout.start_path(i)}")
    (folder / "sources.yaml").write_text(f"""\
timezone: Asia/Shanghai
allow_private_networks: true
windows: ["13:00-14:00", "16:00-17:00"]
# The institution default politeness (as in the shipped sources.yaml): 2 at a time per host, 1 s apart.
defaults: {{every: 15m, per_host: 2, delay: 1s}}
sources:
{chr(10).join(lines)}
""", encoding="utf-8")
    (folder / "alerts.yaml").write_text(f"""\
channels:
  - type: webhook
    name: bench-hook
    url: {bases[0]}/hook
    timeout_s: 10
""", encoding="utf-8")


def expected_hits(layout: Layout, stories_site: object) -> tuple[int, int]:
    """(items, hits) a correct patrol stores."""
    items = hits = 0
    for i in range(layout.sources):
        for n in layout.items(i):
            items += 1
            hits += bool(stories_site.is_hit(n))  # type: ignore[attr-defined]
    return items, hits


def site_stats(base: str) -> dict[str, object]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy: loopback only
    with opener.open(base + "/_stats", timeout=60) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


# --- memory of the process tree -----------------------------------------------------------------

def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, children first (a worker's own children too)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                kids = [int(k) for k in children.read_text().split()]
            except (OSError, ValueError):  # the process or thread has just ended
                continue
            found += kids
            todo += kids
    return found


@dataclass
class TreeChild(harness.Child):
    """The yuqing child, sampled with its descendants: (seconds since start, children, their PSS MB)."""

    children: list[tuple[float, int, float]] = field(default_factory=list)

    def _sample(self) -> None:
        assert self.proc is not None
        while self.proc.poll() is None:
            mb = harness.proc_mb(self.proc.pid)
            kids = [(pid, harness.proc_mb(pid, "smaps_rollup", "Pss:")) for pid in descendants(self.proc.pid)]
            alive = [kb for _, kb in kids if kb is not None]
            now = time.perf_counter() - self.started
            if mb is not None:
                self.samples.append((now, mb))
                self.children.append((now, len(alive), sum(alive)))
            time.sleep(self.step_s)

    def tree(self, after_s: float = 0.0) -> dict[str, float]:
        """The children's most at once, summed PSS peak and median, and the whole tree's median (yuqing's
        RSS + the children's PSS, same samples), ``after_s`` seconds after the start on."""
        kids = [(n, mb) for t, n, mb in self.children if t >= after_s] or [(0, 0.0)]
        tree = [rss + mb for (t, rss), (_, _, mb) in zip(self.samples, self.children) if t >= after_s] or [0.0]
        return {"children": max(n for n, _ in kids), "peak": max(mb for _, mb in kids),
                "median": statistics.median(mb for _, mb in kids), "tree_median": statistics.median(tree)}


@dataclass
class Result:
    sources: int
    hosts: int = 0
    seconds: float = 0.0
    runs: dict[str, int] = field(default_factory=dict)
    counts: dict[str, object] = field(default_factory=dict)
    site: dict[str, object] = field(default_factory=dict)
    rss: dict[str, float] = field(default_factory=dict)
    tree: dict[str, float] = field(default_factory=dict)  # TreeChild.tree
    cpu_s: float = 0.0
    checks: list[str] = field(default_factory=list)
    ok: bool = True


def measure(n_sources: int, per_host: int, work: Path, migrated: bool = False) -> Result:
    layout = Layout(n_sources, per_host)
    result = Result(n_sources, len(layout.hosts))
    server = subprocess.Popen([sys.executable, str(Path(__file__)), "_serve", "--sources", str(n_sources),
                               "--per-host", str(per_host)], stdout=subprocess.PIPE, text=True, cwd=harness.ROOT)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line.startswith("READY "):
            raise SystemExit(f"bench/sources.py _serve did not start: {line[:200]!r}")
        bases = json.loads(line[6:])
        config, data = work / f"config-{n_sources}", work / f"data-{n_sources}"
        shutil.rmtree(data, ignore_errors=True)
        write_config(config, layout, bases)
        if migrated:  # the schema created by another process first: every start of the daemon but its first
            upgrade = harness.Child(["--config", str(config), "--data", str(data), "db", "upgrade"],
                                    work / f"upgrade-{n_sources}.log").start()
            if upgrade.wait()[1] != 0:
                raise SystemExit(f"yuqing db upgrade failed: see {upgrade.log}")
        child = TreeChild(["--config", str(config), "--data", str(data), "crawl", "--once"],
                          work / f"yuqing-{n_sources}.log").start()
        out, code = child.wait()
        result.seconds = child.seconds
        result.rss = child.rss(after_s=5.0)
        result.tree = child.tree(after_s=5.0)
        result.cpu_s = float(child.bench.get("cpu_s", 0.0))
        (work / f"yuqing-{n_sources}.out").write_text(out, encoding="utf-8")
        result.site = site_stats(bases[0])
    finally:
        server.terminate()
        server.wait(10)
    counts = harness.bench_module("crawl").count_rows(None, data)
    with sqlite3.connect(data / "yuqing.db") as conn:
        counts["incidents"] = conn.execute("select count(*) from incidents").fetchone()[0]
        counts["sent"] = conn.execute("select count(*) from deliveries where status = 'sent'").fetchone()[0]
    result.counts = counts
    result.runs = dict(counts["runs"])  # type: ignore[arg-type]
    items, hits = expected_hits(layout, harness.bench_module("site"))
    site = result.site
    if code != 0:
        result.checks.append(f"exit code {code}")
    if result.runs != {"ok": n_sources}:
        result.checks.append(f"runs {result.runs}, expected {n_sources} ok")
    if site["once"] != site["expected"]:
        result.checks.append(f"pages fetched exactly once: {site['once']} of {site['expected']} "
                             f"(never {site['never']}, more than once {site['repeated']})")
    if site["unexpected"] or site["robots_once"] != site["hosts"]:
        result.checks.append(f"unexpected requests {site['unexpected']}; robots.txt once on "
                             f"{site['robots_once']} of {site['hosts']} hosts")
    if counts["items"] != items:
        result.checks.append(f"items {counts['items']}, expected {items}")
    if not counts["hits"] == counts["alerts"] == site["hook_alerts"] == site["hook_keys"] == hits:
        result.checks.append(f"hits {counts['hits']}, alerts {counts['alerts']}, webhook {site['hook_alerts']} "
                             f"({site['hook_keys']} keys); expected {hits}")
    result.ok = not result.checks
    return result


def table(results: list[Result], jieba_mb: float) -> str:
    rows = []
    for r in results:
        s, c = r.site, r.counts
        span = (float(s["last"]) - float(s["first"])) if s.get("first") else 0.0  # type: ignore[arg-type]
        runs = f"{r.runs.get('ok', 0)} / {r.runs.get('partial', 0)} / {r.runs.get('failed', 0)}"
        rows.append([
            f"{r.sources:,}", r.hosts, f"{r.seconds:.1f}", f"{span:.1f}", runs,
            f"{s['once']:,} / {s['expected']:,}", f"{c['items']:,}", f"{c['hits']} / {c['alerts']} / {s['hook_alerts']}",
            f"{float(s['min_gap_s'] or 0):.3f}", f"{r.cpu_s:.0f}", f"{r.rss['peak']:.0f}", f"{r.rss['median']:.0f}",
            f"{r.tree['children']:.0f}", f"{r.tree['peak']:.0f} / {r.tree['median']:.0f}", f"{r.tree['tree_median']:.0f}",
            f"{jieba_mb:.0f}", "ok" if r.ok else "FAILED: " + "; ".join(r.checks)])
    return harness.markdown_table(
        ["sources", "hosts", "wall s", "span s (first→last request)", "runs ok / partial / failed",
         "pages fetched once / expected", "items stored", "hits / alerts / webhook", "min gap same host s",
         "CPU s", "peak RSS MB", "median RSS MB", "child processes (most at once)", "children PSS peak / median MB",
         "tree median MB (RSS + children PSS)", "jieba alone MB", "checks"], rows)


def conduct(args: argparse.Namespace) -> int:
    machine = harness.bench_module("crawl").describe_machine()
    print(f"machine: {machine}", flush=True)
    jieba_mb = harness.jieba_reference_mb()
    print(f"reference: bare `import jieba; jieba.initialize()` peak RSS {jieba_mb:.0f} MB", flush=True)
    work = Path(tempfile.mkdtemp(prefix="yuqing-bench-sources-"))
    print(f"politeness: per_host 2, delay 1s (institution default); {args.per_host} sources per address; "
          f"work folder {work}; database {'migrated beforehand' if args.migrated else 'new (migrated at start)'}",
          flush=True)
    results = []
    for n in args.sources:
        print(f"… {n:,} sources", flush=True)
        r = measure(n, args.per_host, work, args.migrated)
        print(f"  {n:,} sources on {r.hosts} addresses: {r.seconds:.1f} s, runs {r.runs}, items {r.counts['items']}, "
              f"hits {r.counts['hits']}, alerts {r.counts['alerts']}, incidents {r.counts['incidents']}, "
              f"webhook {r.site['hook_alerts']} alerts + {r.site['hook_notices']} notices; "
              f"requests {r.site['requests']}; gaps between two requests to one address under 0.5 s: "
              f"{r.site['gaps_under_half_s']} of {r.site['gaps']}; rss peak {r.rss['peak']:.0f} MB median {r.rss['median']:.0f} MB "
              f"last {r.rss['last']:.0f} MB; child processes {r.tree['children']:.0f}, "
              f"their PSS peak {r.tree['peak']:.0f} MB median {r.tree['median']:.0f} MB; "
              f"tree median {r.tree['tree_median']:.0f} MB; "
              + ("ok" if r.ok else "FAILED: " + "; ".join(r.checks)), flush=True)
        results.append(r)
    print()
    print(table(results, jieba_mb))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r.ok for r in results) else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("which", nargs="?", default="", help=argparse.SUPPRESS)
    parser.add_argument("--sources", default="1000", help="comma-separated source counts (default 1000)")
    parser.add_argument("--per-host", type=int, default=DEFAULT_PER_HOST,
                        help=f"sources per loopback address (default {DEFAULT_PER_HOST})")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (configs, databases, logs)")
    parser.add_argument("--migrated", action="store_true",
                        help="create the database with `yuqing db upgrade` first (a restart, not a first start)")
    args = parser.parse_args()
    if args.which == "_serve":
        harness.guard_loopback_net()
        asyncio.run(serve(Layout(int(args.sources), args.per_host)))
        return
    args.sources = [int(n) for n in args.sources.split(",")]
    sys.exit(conduct(args))


if __name__ == "__main__":
    main()
