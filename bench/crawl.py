"""Crawl throughput: ``yuqing crawl --once`` against Scrapy and against a bare aiohttp + selectolax loop.

Run from the repository root (Scrapy comes with ``pip install -e '.[bench]'``)::

    .venv/bin/python bench/crawl.py                     # 10,000 articles, every measurement
    .venv/bin/python bench/crawl.py --pages 2000        # a quicker look
    .venv/bin/python bench/crawl.py --only yuqing       # one measurement (yuqing, scrapy, ceiling, …)
    .venv/bin/python bench/crawl.py --pg                # yuqing on PostgreSQL as well
    .venv/bin/python bench/crawl.py --profile out.prof  # yuqing under cProfile (slower; for finding costs)
    .venv/bin/python bench/crawl.py --baseline ../old   # also yuqing from another checkout (before/after)
    .venv/bin/python bench/crawl.py --repeat 3          # three rounds, the best of each tabled

One loopback site (``bench/site.py``, its own process, 127.0.0.1 only) serves ``--lists`` list
pages linking ``--pages`` article pages built from real Chinese news pages. Each measurement runs
in its own process, one after the other, against that same site, and is timed wall-clock from
process start to exit (interpreter start-up, imports and, for yuqing, opening the database
included). Every measurement fetches every list page and every article once; the figures are
checked (all articles served, all parsed, for yuqing: every article stored and every expected
hit alerted) before they are printed.

Measurements
------------
* ``yuqing`` — ``yuqing crawl --once`` (the CLI, unchanged) on a fresh data folder with SQLite
  (WAL, synchronous=FULL): one ``type: news`` source per list page (article links found without
  a selector), fetch + automatic extraction (``extract_article``) + rule matching + storage,
  evidence (WARC) for hits, alerts delivered to a webhook on the site. Politeness for the bench:
  ``per_host: 16, delay: 0s`` (the institution default is 2 and 1 s), ``max_items: 1000``.
* ``yuqing-pg`` (``--pg``) — the same on a throwaway PostgreSQL server (fsync on).
* ``scrapy`` — a Scrapy spider (CrawlerProcess; CONCURRENT_REQUESTS and _PER_DOMAIN = concurrency,
  DOWNLOAD_DELAY 0, ROBOTSTXT_OBEY off, cookies off, AutoThrottle off) that follows the list links
  (``ul.news-list a``) and runs **our** ``extract_article`` on every article: the same parse work.
* ``scrapy-sel`` — the same spider with Scrapy's own selectors instead (``title::text`` and
  ``//p//text()``): what a typical hand-written spider does; cheaper, and not the same work.
* ``ceiling`` — a bare loop: aiohttp (one session, connection limit = concurrency) + N workers
  on a queue, ``extract_article`` on every article, nothing stored: the limit of this stack doing
  the same parse on this machine.
* ``ceiling-min`` — the same loop with a minimal selectolax parse (``<title>`` and the ``<p>``
  texts): the limit of fetching and tokenising the pages at all.
* ``ceiling-mp`` (on request) — the ceiling with ``extract_article`` in one process per CPU.
* ``yuqing-baseline`` (``--baseline DIR``) — ``yuqing`` run from another checkout.

Every client runs ``concurrency`` (default 16, the most ``per_host`` allows) requests at a time.
Nothing in any process may connect anywhere but 127.0.0.1 (``site.guard_loopback``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))


def _site_module():  # type: ignore[no-untyped-def]
    """``bench/site.py`` under another name: ``site`` is a standard-library module."""
    if "yuqing_bench_site" in sys.modules:
        return sys.modules["yuqing_bench_site"]
    spec = importlib.util.spec_from_file_location("yuqing_bench_site", BENCH / "site.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["yuqing_bench_site"] = module
    spec.loader.exec_module(module)
    return module


INSTITUTION = """\
group: 本单位
terms: [化隆县第二幼儿园, 化隆二幼, 县二幼]
"""
RULES = """\
rules:
  - id: food-safety
    category: 安全生产
    require: 本单位
    any: [食物中毒, 腹泻, 呕吐]
    near: 40
    not: [演练, 培训]
    grade: 重大
  - id: fees
    category: 损害单位声誉
    require: 本单位
    any: [乱收费]
    near: 40
    grade: 一般
"""


def write_config(folder: Path, base: str, lists: int, per_host: int, parse_workers: str = "auto") -> None:
    (folder / "keywords").mkdir(parents=True, exist_ok=True)
    (folder / "keywords" / "institution.yaml").write_text(INSTITUTION, encoding="utf-8")
    (folder / "keywords" / "rules.yaml").write_text(RULES, encoding="utf-8")
    sources = "\n".join(
        f"  - id: list-{k:03d}\n    name: 化隆新闻网 列表 {k + 1}\n    type: news\n    url: {base}/list/{k}.html"
        for k in range(lists))
    # left out when "auto" (the default), so that --baseline runs checkouts from before the setting
    workers = "" if parse_workers == "auto" else f"parse_workers: {parse_workers}\n"
    (folder / "sources.yaml").write_text(f"""\
timezone: Asia/Shanghai
allow_private_networks: true
windows: always
# Bench politeness: per_host {per_host} and no delay (the institution default is per_host 2, delay 1s).
defaults: {{every: 15m, per_host: {per_host}, delay: 0s, jitter: 0s, max_items: 1000}}
{workers}sources:
{sources}
""", encoding="utf-8")
    (folder / "alerts.yaml").write_text(f"""\
channels:
  - type: webhook
    name: bench-hook
    url: {base}/hook
    timeout_s: 5
""", encoding="utf-8")


# --- the children ----------------------------------------------------------------------------------

def report_child(started: float, main_cpu: float, **extra: object) -> None:
    """The child's own figures, one ``BENCH {json}`` line on stderr: wall time of the work (start-up
    excluded), main-thread CPU, whole-process CPU and peak RSS."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)  # the parse processes of ceiling-mp, once joined
    print("BENCH " + json.dumps({
        "work_s": round(time.perf_counter() - started, 3), "main_cpu_s": round(time.thread_time() - main_cpu, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime + workers.ru_utime + workers.ru_stime, 3),
        "max_rss_mb": round(usage.ru_maxrss / 1024, 1), **extra}), file=sys.stderr, flush=True)


def child_yuqing(args: argparse.Namespace) -> None:
    """``yuqing --config C --data D [--db URL] crawl --once``, exactly as the console script runs it
    (from ``--root``, another checkout, when given: for before/after comparisons)."""
    _site_module().guard_loopback()
    if args.root:
        sys.path.insert(0, str(Path(args.root).resolve()))
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    from crawler.cli import app

    argv = ["--config", args.config, "--data", args.data, *(["--db", args.db] if args.db else []), "crawl", "--once"]
    import crawler

    started, main_cpu = time.perf_counter(), time.thread_time()
    try:
        app(argv, prog_name="yuqing", standalone_mode=False)
    finally:
        # Main-thread CPU close to the work time means the event loop was busy all along.
        report_child(started, main_cpu, code=str(Path(crawler.__file__).parent.parent))
        if args.profile:
            profiler.disable()
            profiler.dump_stats(args.profile)


def _fetch_result(url: str, body: bytes, text: str, encoding: str):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from crawler.types import FetchResult

    return FetchResult(url=url, final_url=url, status=200, headers=(), body=body, text=text, encoding=encoding,
                       fetched_at=datetime.now(UTC), elapsed_ms=0, request_headers=(), not_modified=False)


def child_scrapy(args: argparse.Namespace) -> None:
    _site_module().guard_loopback()
    import scrapy
    from scrapy.crawler import CrawlerProcess

    from crawler.adapters.html import extract_article

    counts = {"articles": 0, "text_chars": 0, "lists": 0}
    base, lists, parse = args.base, args.lists, args.parse

    class BenchSpider(scrapy.Spider):  # type: ignore[misc]
        name = "bench"

        async def start(self):  # type: ignore[no-untyped-def]  # Scrapy ≥ 2.13
            for k in range(lists):
                yield scrapy.Request(f"{base}/list/{k}.html", callback=self.parse_list)

        def start_requests(self):  # type: ignore[no-untyped-def]  # older Scrapy
            for k in range(lists):
                yield scrapy.Request(f"{base}/list/{k}.html", callback=self.parse_list)

        def parse_list(self, response):  # type: ignore[no-untyped-def]
            counts["lists"] += 1
            for href in response.css("ul.news-list a::attr(href)").getall():
                yield response.follow(href, callback=self.parse_article)

        def parse_article(self, response):  # type: ignore[no-untyped-def]
            if parse == "extract":
                item = extract_article(_fetch_result(response.url, response.body, response.text, response.encoding),
                                       "scrapy")
                title, text = item.title, item.text
            else:
                title = (response.css("title::text").get() or "").strip()
                text = "\n".join(t.strip() for t in response.xpath("//body//p//text()").getall() if t.strip())
            counts["articles"] += 1
            counts["text_chars"] += len(text)
            yield {"url": response.url, "title": title, "chars": len(text)}

    process = CrawlerProcess(settings={
        "CONCURRENT_REQUESTS": args.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
        "DOWNLOAD_DELAY": 0,
        "ROBOTSTXT_OBEY": False,
        "COOKIES_ENABLED": False,
        "AUTOTHROTTLE_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "USER_AGENT": "yuqing-bench-scrapy",
    })
    started, main_cpu = time.perf_counter(), time.thread_time()
    process.crawl(BenchSpider)
    process.start()
    report_child(started, main_cpu)
    print(json.dumps(counts), flush=True)


def _extract_chars(url: str, body: bytes, content_type: str | None) -> int:
    """``extract_article`` in a worker process (``ceiling-mp``): the length of the text found."""
    from crawler.adapters.html import extract_article
    from crawler.fetch.charset import decode_body

    text, encoding = decode_body(body, content_type, None)
    return len(extract_article(_fetch_result(url, body, text, encoding), "ceiling").text)


def child_ceiling(args: argparse.Namespace) -> None:
    _site_module().guard_loopback()
    import concurrent.futures
    import multiprocessing

    import aiohttp
    from selectolax.lexbor import LexborHTMLParser

    from crawler.adapters.html import extract_article
    from crawler.fetch.charset import decode_body

    counts = {"articles": 0, "text_chars": 0, "lists": 0}
    # extract-mp: the same extraction in one process per CPU (forked before any thread or loop
    # exists), the event loop only fetching: what parsing on every core would give.
    pool = (concurrent.futures.ProcessPoolExecutor(os.cpu_count() or 1, mp_context=multiprocessing.get_context("fork"))
            if args.parse == "extract-mp" else None)

    async def parse_article(url: str, body: bytes, content_type: str | None) -> None:
        if pool is not None:
            chars = await asyncio.get_running_loop().run_in_executor(pool, _extract_chars, url, body, content_type)
        elif args.parse == "extract":
            text, encoding = decode_body(body, content_type, None)
            item = extract_article(_fetch_result(url, body, text, encoding), "ceiling")
            chars = len(item.text)
        else:
            tree = LexborHTMLParser(body.decode("utf-8", "replace"))
            node = tree.css_first("title")
            _title = node.text(strip=True) if node is not None else ""
            chars = len("\n".join(t for p in tree.css("p") if (t := p.text(strip=True))))
        counts["articles"] += 1
        counts["text_chars"] += chars

    async def main() -> None:
        queue: asyncio.Queue[str] = asyncio.Queue()
        for k in range(args.lists):
            queue.put_nowait(f"{args.base}/list/{k}.html")
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def worker() -> None:
                while True:
                    url = await queue.get()
                    try:
                        async with session.get(url) as resp:
                            body = await resp.read()
                            content_type = resp.headers.get("Content-Type")
                        if "/list/" in url:
                            counts["lists"] += 1
                            tree = LexborHTMLParser(body.decode("utf-8", "replace"))
                            for a in tree.css("ul.news-list a"):
                                queue.put_nowait(args.base + (a.attributes.get("href") or ""))
                        else:
                            await parse_article(url, body, content_type)
                    finally:
                        queue.task_done()

            workers = [asyncio.create_task(worker()) for _ in range(args.concurrency)]
            await queue.join()
            for w in workers:
                w.cancel()

    started, main_cpu = time.perf_counter(), time.thread_time()
    asyncio.run(main())
    if pool is not None:
        pool.shutdown(wait=True)
    report_child(started, main_cpu)
    print(json.dumps(counts), flush=True)


# --- the conductor ---------------------------------------------------------------------------------

@dataclass
class Measurement:
    name: str
    parse: str
    seconds: float = 0.0  # wall clock, process start to exit
    articles: int = 0
    child: dict[str, float] = field(default_factory=dict)  # the child's BENCH line
    checks: list[str] = field(default_factory=list)
    ok: bool = True

    @property
    def rate(self) -> float:
        return self.articles / self.seconds if self.seconds else 0.0

    @property
    def per_cpu(self) -> float:
        """Articles per CPU-second of the client process: less sensitive to other load on the machine."""
        cpu = self.child.get("cpu_s", 0.0)
        return self.articles / cpu if cpu else 0.0


class SiteProcess:
    def __init__(self, pages: int, lists: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(BENCH / "site.py"), "--pages", str(pages), "--lists", str(lists)],
            stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("READY "):
            self.stop()
            raise SystemExit(f"bench/site.py did not start: {line!r}")
        self.base, *rest = line.split()[1:]
        self.info = " ".join(rest)

    def call(self, path: str, method: str = "GET") -> dict[str, int]:
        request = urllib.request.Request(self.base + path, method=method, data=b"" if method == "POST" else None)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy: loopback only
        with opener.open(request, timeout=10) as resp:
            return json.loads(resp.read())  # type: ignore[no-any-return]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def run_child(m: Measurement, argv: list[str], log: Path) -> tuple[str, int]:
    started = time.perf_counter()
    with log.open("w") as err:
        proc = subprocess.run([sys.executable, str(BENCH / "crawl.py"), *argv], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=err, text=True, env={**os.environ, "COLUMNS": "200"}, check=False)
    m.seconds = time.perf_counter() - started
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("BENCH "):
            m.child = json.loads(line[6:])
    return proc.stdout, proc.returncode


def check_site(m: Measurement, site: SiteProcess, pages: int, lists: int) -> None:
    served = site.call("/stats")
    m.checks.append(f"served {served['article']} articles, {served['list']} lists")
    if served["article"] != pages or served["list"] != lists:
        m.ok = False
        m.checks.append(f"expected exactly {pages} articles and {lists} lists to be fetched")


def measure_yuqing(name: str, site: SiteProcess, args: argparse.Namespace, work: Path, db_url: str | None,
                   root: str | None = None, profile: str | None = None, parse_workers: str = "auto") -> Measurement:
    site_mod = _site_module()
    m = Measurement(name, "extract_article + match + store")
    config, data = work / f"{name}-config", work / f"{name}-data"
    shutil.rmtree(data, ignore_errors=True)
    write_config(config, site.base, args.lists, args.concurrency, parse_workers)
    if db_url:
        reset_postgres(db_url)
    site.call("/reset", "POST")
    argv = ["_yuqing", "--config", str(config), "--data", str(data)]
    if db_url:
        argv += ["--db", db_url]
    if root:
        argv += ["--root", root]
    if profile:
        argv += ["--profile", profile]
    log = work / f"{name}.log"
    out, code = run_child(m, argv, log)
    check_site(m, site, args.pages, args.lists)
    if code != 0:
        m.ok = False
        m.checks.append(f"exit code {code}; see {log}")
    sent = re.search(r"已发送 sent (\d+)", out)
    expected = site_mod.expected_hits(args.pages)
    counts = count_rows(db_url, data)
    m.checks.append(f"stored {counts['items']} items, {counts['hits']} hits, {counts['alerts']} alerts; "
                    f"runs {counts['runs']}")
    if counts["items"] != args.pages or counts["hits"] != expected or counts["alerts"] != expected \
            or counts["runs"] != {"ok": args.lists}:
        m.ok = False
        m.checks.append(f"expected {args.pages} items, {expected} hits and alerts, {args.lists} runs ok")
    m.articles = counts["items"]  # only what was stored counts
    hook = site.call("/stats")["hook"]
    m.checks.append(f"webhook received {hook} alerts (expected {counts['delivered']}: {expected} less reposts "
                    f"folded into an incident); CLI says sent {sent.group(1) if sent else '?'}")
    if hook != counts["delivered"]:
        m.ok = False
    return m


def count_rows(db_url: str | None, data: Path) -> dict[str, object]:
    queries = {"items": "select count(*) from items", "hits": "select count(*) from hits",
               "alerts": "select count(*) from alerts",
               # an incident's reposts are kept but only its first alert is delivered (issue 5)
               "delivered": "select count(*) from alerts a where a.incident_id is null or a.id = "
                            "(select i.primary_alert_id from incidents i where i.id = a.incident_id)"}
    if db_url is None:
        with sqlite3.connect(data / "yuqing.db") as conn:
            out: dict[str, object] = {k: conn.execute(q).fetchone()[0] for k, q in queries.items()}
            out["runs"] = dict(conn.execute("select status, count(*) from runs group by status").fetchall())
        return out

    async def pg() -> dict[str, object]:
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(db_url)
        try:
            async with engine.connect() as conn:
                out: dict[str, object] = {k: (await conn.execute(text(q))).scalar() for k, q in queries.items()}
                rows = await conn.execute(text("select status, count(*) from runs group by status"))
                out["runs"] = {status: count for status, count in rows.all()}
                return out
        finally:
            await engine.dispose()

    return asyncio.run(pg())


def reset_postgres(db_url: str) -> None:
    """An empty schema before each PostgreSQL run (yuqing migrates it on start)."""
    async def reset() -> None:
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(db_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        finally:
            await engine.dispose()

    asyncio.run(reset())


def measure_client(kind: str, name: str, parse: str, site: SiteProcess, args: argparse.Namespace,
                   work: Path) -> Measurement:
    m = Measurement(name, {"extract": "extract_article", "selectors": "Scrapy selectors (title, //p)",
                           "minimal": "selectolax <title> + <p>",
                           "extract-mp": f"extract_article in {os.cpu_count()} processes"}[parse])
    site.call("/reset", "POST")
    log = work / f"{name}.log"
    out, code = run_child(
        m, [f"_{kind}", "--base", site.base, "--lists", str(args.lists), "--concurrency", str(args.concurrency),
            "--parse", parse], log)
    check_site(m, site, args.pages, args.lists)
    if code != 0:
        m.ok = False
        m.checks.append(f"exit code {code}; see {log}")
        return m
    counts = json.loads(out.strip().splitlines()[-1])
    m.articles = counts["articles"]
    m.checks.append(f"parsed {counts['articles']} articles, {counts['text_chars'] / max(1, counts['articles']):.0f} "
                    "text chars per article")
    if counts["articles"] != args.pages:
        m.ok = False
    return m


class PostgresServer:
    """A throwaway PostgreSQL (fsync and synchronous_commit on, unlike the test suite's) on loopback."""

    def __init__(self) -> None:
        sys.path.insert(0, str(ROOT / "tests"))
        from pg_cluster import PgCluster, find_bindir

        bindir = find_bindir()
        if bindir is None:
            raise SystemExit("--pg: PostgreSQL server binaries not found")
        cluster = PgCluster(bindir)

        def start() -> None:  # PgCluster.start, with durable settings
            import pwd

            from loopback import free_port

            cluster.base = Path(tempfile.mkdtemp(prefix="yuqing-bench-pg-", dir="/tmp"))
            if cluster.as_postgres:
                owner = pwd.getpwnam("postgres")
                os.chown(cluster.base, owner.pw_uid, owner.pw_gid)
            cluster._server_tool("initdb", "-D", str(cluster.data), "-A", "trust", "-U", "postgres",
                                 "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
            cluster.port = free_port()
            options = f"-k {cluster.base} -c listen_addresses=127.0.0.1 -p {cluster.port}"
            cluster._server_tool("pg_ctl", "-D", str(cluster.data), "-l", str(cluster.log), "-o", options,
                                 "-w", "start")

        start()
        cluster.create_database("bench")
        self.cluster = cluster
        self.url = cluster.url("bench")

    def stop(self) -> None:
        self.cluster.stop()


def describe_machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:  # not Linux: the platform name will do
        cpu = ""
    versions = []
    for package in ("aiohttp", "selectolax", "scrapy", "twisted", "sqlalchemy"):
        try:
            from importlib.metadata import version

            versions.append(f"{package} {version(package)}")
        except Exception:  # noqa: BLE001, S112  (a missing package is simply not listed)
            continue
    return (f"{platform.system()} {platform.release()}, {os.cpu_count()} CPU ({cpu or platform.machine()}), "
            f"Python {platform.python_version()}; {', '.join(versions)}")


ALL = ("yuqing", "yuqing-inline", "scrapy", "scrapy-sel", "ceiling", "ceiling-min")  # and, on request: ceiling-mp
RATIOS = (  # (numerator, denominator, label, aim)
    ("yuqing", "scrapy", "yuqing / Scrapy, same extract_article", "≥ 2×"),
    ("yuqing", "scrapy-sel", "yuqing / Scrapy with its own selectors (less work)", ""),
    ("yuqing", "ceiling", "yuqing / ceiling: aiohttp + extract_article", "≥ 50 %"),
    ("yuqing", "ceiling-min", "yuqing / bare fetch + tokenise: aiohttp + selectolax <title>, <p>", ""),
    ("ceiling-mp", "scrapy", "ceiling with extract_article on every core / Scrapy", ""),
    ("yuqing-pg", "yuqing", "yuqing on PostgreSQL / on SQLite", ""),
    ("yuqing", "yuqing-baseline", "yuqing / yuqing-baseline (--baseline checkout)", ""),
)


def print_table(best: dict[str, Measurement], runs: int) -> str:
    lines = [("| run | parse | pages | wall s | pages/s | client CPU s | pages per CPU-s | main-thread CPU s "
              "| peak RSS MB | checks |"),
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for m in best.values():
        lines.append(f"| {m.name} | {m.parse} | {m.articles} | {m.seconds:.1f} | {m.rate:.1f} | "
                     f"{m.child.get('cpu_s', 0):.1f} | {m.per_cpu:.1f} | {m.child.get('main_cpu_s', 0):.1f} | "
                     f"{m.child.get('max_rss_mb', 0):.0f} | {'ok' if m.ok else 'FAILED'} |")
    ratios = []
    for top, bottom, label, aim in RATIOS:
        if top not in best or bottom not in best:
            continue
        if not (best[top].ok and best[bottom].ok and best[bottom].rate and best[bottom].per_cpu):
            failed = " and ".join(name for name in (top, bottom) if not best[name].ok)
            ratios.append(f"| {label} | n/a ({failed} FAILED) | n/a | {aim} |")
            continue
        wall = best[top].rate / best[bottom].rate
        cpu = best[top].per_cpu / best[bottom].per_cpu
        ratios.append(f"| {label} | {wall:.2f}× ({wall:.0%}) | {cpu:.2f}× | {aim} |")
    if ratios:
        lines += ["", f"| ratio (best of {runs}) | pages/s | pages per CPU-s | aim |", "|---|---:|---:|---|", *ratios]
    table = "\n".join(lines)
    print(table)
    return table


def conduct(args: argparse.Namespace) -> int:
    wanted = args.only.split(",") if args.only else list(ALL)
    if args.pg and "yuqing-pg" not in wanted:
        wanted.insert(wanted.index("yuqing") + 1 if "yuqing" in wanted else 0, "yuqing-pg")
    if args.baseline and "yuqing-baseline" not in wanted:
        wanted.insert(wanted.index("yuqing") + 1 if "yuqing" in wanted else 0, "yuqing-baseline")
    if any(w.startswith("scrapy") for w in wanted) and importlib.util.find_spec("scrapy") is None:
        raise SystemExit("Scrapy is not installed: pip install -e '.[bench]' (or leave it out with --only)")
    # SIGTERM (or SIGINT in a background job, where it is ignored) must still stop the site, the
    # running child and the PostgreSQL server: turn it into an exception so the finally blocks run.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"machine: {describe_machine()}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="yuqing-bench-crawl-"))
    site = SiteProcess(args.pages, args.lists)
    print(f"site: {site.base} (own process), {args.pages} articles on {args.lists} list pages ({site.info}); "
          f"concurrency {args.concurrency}; yuqing politeness per_host {args.concurrency}, delay 0s; "
          f"work folder {work}", flush=True)
    pg = None
    results: list[Measurement] = []
    try:
        for round_ in range(1, args.repeat + 1):
            for name in wanted:
                print(f"… {name} (round {round_}/{args.repeat})", flush=True)
                if name == "yuqing":
                    m = measure_yuqing(name, site, args, work, None, profile=args.profile)
                elif name == "yuqing-inline":
                    m = measure_yuqing(name, site, args, work, None, parse_workers="0")
                elif name == "yuqing-baseline":
                    m = measure_yuqing(name, site, args, work, None, root=args.baseline)
                elif name == "yuqing-pg":
                    pg = pg or PostgresServer()
                    m = measure_yuqing(name, site, args, work, pg.url)
                elif name == "scrapy":
                    m = measure_client("scrapy", name, "extract", site, args, work)
                elif name == "scrapy-sel":
                    m = measure_client("scrapy", name, "selectors", site, args, work)
                elif name == "ceiling":
                    m = measure_client("ceiling", name, "extract", site, args, work)
                elif name == "ceiling-min":
                    m = measure_client("ceiling", name, "minimal", site, args, work)
                elif name == "ceiling-mp":
                    m = measure_client("ceiling", name, "extract-mp", site, args, work)
                else:
                    raise SystemExit(f"unknown measurement {name!r}")
                print(f"  {m.name}: {m.articles} pages in {m.seconds:.1f} s = {m.rate:.1f} pages/s; "
                      f"client cpu {m.child.get('cpu_s', 0):.1f} s (main thread {m.child.get('main_cpu_s', 0):.1f}), "
                      f"peak rss {m.child.get('max_rss_mb', 0):.0f} MB; " + "; ".join(m.checks), flush=True)
                results.append(m)
    finally:
        site.stop()
        if pg is not None:
            pg.stop()
    best: dict[str, Measurement] = {}
    for m in results:  # the best round of each (on a shared machine, the least disturbed one)
        if m.name not in best or (m.ok, m.rate) > (best[m.name].ok, best[m.name].rate):
            best[m.name] = m
    print()
    table = print_table(best, args.repeat)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "machine": describe_machine(), "pages": args.pages, "lists": args.lists, "concurrency": args.concurrency,
            "results": [{**m.__dict__, "rate": m.rate, "per_cpu": m.per_cpu} for m in results], "table": table,
        }, ensure_ascii=False, indent=2), encoding="utf-8")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(m.ok for m in best.values()) else 1


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):  # a measurement's own process
        child = argparse.ArgumentParser()
        child.add_argument("which")
        for option in ("--config", "--data", "--db", "--profile", "--base", "--parse", "--root"):
            child.add_argument(option)
        child.add_argument("--lists", type=int)
        child.add_argument("--concurrency", type=int)
        args = child.parse_args()
        if args.which == "_config":  # for profiling by hand: write the bench configuration only
            write_config(Path(args.config), args.base, args.lists, args.concurrency)
            return
        {"_yuqing": child_yuqing, "_scrapy": child_scrapy, "_ceiling": child_ceiling}[args.which](args)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=10_000, help="article pages (default 10000)")
    parser.add_argument("--lists", type=int, default=100, help="list pages, one yuqing source each (default 100)")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="requests at a time, every client; yuqing's per_host (1–16, default 16)")
    parser.add_argument("--only", help="comma-separated, in this order: " + ",".join(ALL)
                        + " (also ceiling-mp: the ceiling parsing in one process per CPU)")
    parser.add_argument("--pg", action="store_true", help="also yuqing on a throwaway PostgreSQL (fsync on)")
    parser.add_argument("--baseline", metavar="DIR", help="also yuqing from another checkout (before/after)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the best round of each is tabled")
    parser.add_argument("--profile", help="write a cProfile of the yuqing run to this file (slows it)")
    parser.add_argument("--json", help="write every round's results as JSON to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (configs, databases, logs)")
    args = parser.parse_args()
    if not 1 <= args.concurrency <= 16:
        parser.error("--concurrency must be 1–16 (the most per_host allows)")
    sys.exit(conduct(args))


if __name__ == "__main__":
    main()
