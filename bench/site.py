"""A loopback news site for the crawl benchmarks: thousands of real-looking Chinese article pages.

Run from the repository root (``bench/crawl.py`` starts it for you, in its own process)::

    .venv/bin/python bench/site.py --pages 10000 --lists 100 [--port 0]

It prints one line ``READY http://127.0.0.1:PORT`` when it listens, then serves until killed.
It binds 127.0.0.1 only and never opens an outgoing connection.

The pages
---------
Templates are the real news pages of ``../shared/fixtures/news/{gne,magic_html}`` (sina, 163, qq,
ifeng, people, thepaper, xinhuanet, local government sites …; 20–600 KB each, scripts, navigation,
sidebars and all), or ``tests/data/news/magic_html`` in a clone without the shared folder. Each
template is prepared once: its headline is replaced by a slot, and a slot paragraph is inserted
before the first paragraph of its main text (found with our own ``extract_article``). A template
is used only if the extractor then finds both slots again, so every page has a known title and a
known lede. Article ``n`` is template ``n % T`` with its own headline and its own lede — a dateline
and 2–4 sentences drawn (seeded by ``n``) from the fixtures' article texts — so no two pages
have the same text.

About 1 % of the articles (``is_hit(n)``) say that 化隆二幼 children vomited after lunch, which
the bench rule ``food-safety`` matches; another ~1 % mention 化隆二幼 with a drill (演练), which
the rule's ``not`` excludes. ``expected_hits`` gives the count a correct crawl must find.

URLs: list pages ``/list/K.html`` (K = 0 … lists-1) each link ``pages / lists`` articles
``/news/2026/11/NNNNNN.html`` (anchor text = headline, so ``type: news`` finds them without a
selector); ``/robots.txt`` allows everything; ``POST /hook`` is a webhook receiver that counts
alerts; ``GET /stats`` returns JSON counts (requests per kind, webhook posts).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import harness  # bench/ is the script's folder, first on sys.path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT.parent / "shared" / "fixtures" / "news"
FALLBACK = ROOT / "tests" / "data" / "news"
TITLE_SLOT, LEDE_SLOT = "@@BENCH_TITLE@@", "@@BENCH_LEDE@@"

# Words of the bench rules (bench/crawl.py RULES) and of the institution: sentences drawn from the
# fixtures must not carry them, and hit pages use only templates whose own text has none (a 培训 in
# the page's body vetoes the rule for the whole page), so that the expected hits are known exactly.
RULE_WORDS = ("化隆", "二幼", "食物中毒", "腹泻", "呕吐", "乱收费", "演练", "培训")
HIT_SENTENCE = "有家长反映，化隆二幼多名幼儿午餐后出现呕吐症状，已送医观察，园方称正在配合调查。"
DECOY_SENTENCE = "化隆县第二幼儿园今天举行食物中毒应急演练，模拟幼儿呕吐送医流程。"
REPORTERS = ("王海燕", "李明", "张晓东", "马文军", "韩雪", "赵立新", "冶生福", "陈静")
DESKS = ("本报讯", "新华社电", "海东讯", "化隆讯", "本网讯")


def is_hit(n: int) -> bool:
    return n % 97 == 13


def is_decoy(n: int) -> bool:
    return n % 89 == 7 and not is_hit(n)


def expected_hits(pages: int) -> int:
    return sum(1 for n in range(pages) if is_hit(n))


def article_path(n: int) -> str:
    return f"/news/2026/11/{n:06d}.html"


# Refuse, in this process, every connection outside 127.0.0.0/8 (a belt to the benchmark's braces:
# nothing here is meant to leave the machine, not even a library's phone-home).
guard_loopback = harness.guard_loopback_net


# --- templates -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Template:
    name: str
    parts: tuple[bytes, ...]  # literal, slot, literal, slot, …: slots are TITLE_SLOT / LEDE_SLOT
    slots: tuple[str, ...]
    clean: bool = True  # no rule word in the page's own title and text: usable for a hit page

    def render(self, title: str, lede: str) -> bytes:
        values = {TITLE_SLOT: title.encode(), LEDE_SLOT: lede.encode()}
        out = [self.parts[0]]
        for slot, literal in zip(self.slots, self.parts[1:]):
            out.append(values[slot])
            out.append(literal)
        return b"".join(out)


def template_files() -> list[Path]:
    if FIXTURES.is_dir():
        files = sorted(FIXTURES.glob("gne/*.html")) + sorted(FIXTURES.glob("magic_html/*.html"))
        if files:
            return files
    return sorted(FALLBACK.glob("magic_html/*.html"))


def _result(url: str, body: bytes):  # type: ignore[no-untyped-def]
    from crawler.fetch.charset import decode_body
    from crawler.types import FetchResult

    text, encoding = decode_body(body, "text/html", None)
    return FetchResult(url=url, final_url=url, status=200, headers=(), body=body, text=text, encoding=encoding,
                       fetched_at=datetime.now(UTC), elapsed_ms=0, request_headers=(), not_modified=False)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def prepare(path: Path) -> tuple[Template | None, list[str], str]:
    """The template made from one page (None if the slots cannot be placed), its sentences, its title."""
    from selectolax.lexbor import LexborHTMLParser

    from crawler.adapters.html import extract_article, node_text

    result = _result("http://127.0.0.1/x.html", path.read_bytes())
    original = extract_article(result, "bench")
    sentences = [s + "。" for line in original.text.split("\n") for s in line.split("。")
                 if 12 <= len(s.strip()) <= 80 and not re.search(r"[a-zA-Z]{4,}|http|©", s)
                 and not any(word in s for word in RULE_WORDS)]
    if not original.title or not original.text:
        return None, sentences, original.title
    tree = LexborHTMLParser(result.text)
    main = _squash(original.text)
    anchor = next((p for p in tree.css("p") if len(t := _squash(node_text(p))) >= 12 and t in main), None)
    if anchor is None and tree.body is not None:  # text in <div>s split by <br>: before its first run
        anchor = next((node for node in tree.body.traverse(include_text=True) if node.tag == "-text"
                       and len(t := _squash(node.text_content or "")) >= 12 and t in main), None)
    if anchor is None:
        return None, sentences, original.title
    slot = LexborHTMLParser(f"<p>{LEDE_SLOT}</p>").css_first("p")
    assert slot is not None
    anchor.insert_before(slot)
    html = tree.html or ""
    escaped = original.title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for spelling in (original.title, escaped, escaped.replace('"', "&quot;")):
        html = html.replace(spelling, TITLE_SLOT)
    if TITLE_SLOT not in html:
        return None, sentences, original.title
    pieces = re.split(f"({re.escape(TITLE_SLOT)}|{re.escape(LEDE_SLOT)})", html)
    clean = not any(word in original.title + original.text for word in RULE_WORDS)
    template = Template(path.stem, tuple(p.encode() for p in pieces[0::2]), tuple(pieces[1::2]), clean)
    # The template counts only if the extractor finds the new headline and lede again.
    probe_title, probe_lede = "基准测试标题化隆县城市建设新进展", "基准测试导语：全县今年新建改建道路四十公里，城乡面貌明显改善。"
    probe = extract_article(_result("http://127.0.0.1/y.html", template.render(probe_title, probe_lede)), "bench")
    if probe.title != probe_title or probe_lede not in probe.text:
        return None, sentences, original.title
    return template, sentences, original.title


@dataclass
class Corpus:
    templates: list[Template]
    sentences: list[str]
    titles: list[str]
    skipped: list[str]

    @classmethod
    def load(cls) -> Corpus:
        templates: list[Template] = []
        sentences: list[str] = []
        titles: list[str] = []
        skipped: list[str] = []
        for path in template_files():
            template, found, title = prepare(path)
            sentences += found
            if title:
                titles.append(title)
            if template is None:
                skipped.append(path.stem)
            else:
                templates.append(template)
        if not any(t.clean for t in templates):
            raise SystemExit("bench/site.py: no usable page template (fixtures missing?)")
        return cls(templates, list(dict.fromkeys(sentences)), titles, skipped)

    def headline(self, n: int) -> str:
        rng = random.Random(n * 7919 + 1)
        if is_hit(n):
            return rng.choice(("化隆二幼多名幼儿午餐后身体不适", "家长反映化隆二幼幼儿午餐后呕吐", "县二幼幼儿午餐后出现不适"))
        for _ in range(20):
            sentence = re.sub(r"^[^\u4e00-\u9fff]+", "", _squash(rng.choice(self.sentences))).rstrip("。")
            clause = re.split(r"[，,；;：:“”\"\-_|｜—（）()]", sentence)[0][:26]
            if len(clause) >= 8:
                return clause
        return f"化隆新闻第{n}号"

    def lede(self, n: int) -> str:
        rng = random.Random(n)
        month, day, hour = 1 + n % 12, 1 + n % 28, 8 + n % 12
        parts = [f"{rng.choice(DESKS)}（记者 {rng.choice(REPORTERS)}）2026年{month}月{day}日{hour}时讯，"]
        parts += rng.sample(self.sentences, k=min(len(self.sentences), rng.randint(2, 4)))
        if is_hit(n):
            parts.insert(1, HIT_SENTENCE)
        elif is_decoy(n):
            parts.insert(1, DECOY_SENTENCE)
        return "".join(parts)

    def template(self, n: int) -> Template:
        if is_hit(n) or is_decoy(n):
            clean = [t for t in self.templates if t.clean]
            return clean[n % len(clean)]
        return self.templates[n % len(self.templates)]

    def article(self, n: int) -> bytes:
        return self.template(n).render(self.headline(n), self.lede(n))


LIST_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>新闻中心 第{k}页_化隆新闻网</title>
<meta name="keywords" content="化隆,新闻,海东"></head><body>
<div class="top"><a href="/">首页</a> | <a href="/list/0.html">要闻</a> | <a href="/list/1.html">民生</a> |
<a href="/list/2.html">教育</a> | <a href="/about.html">关于我们</a></div>
<div class="main"><h2>新闻中心</h2><ul class="news-list">
{items}
</ul><div class="pages">{pager}</div></div>
<div class="footer">版权所有 化隆新闻网 青ICP备00000000号</div></body></html>"""


def list_page(corpus: Corpus, k: int, pages: int, lists: int) -> bytes:
    per = -(-pages // lists)
    items = "\n".join(
        f'<li><a href="{article_path(n)}" target="_blank">{corpus.headline(n)}</a>'
        f"<span class=\"date\">2026-11-{1 + n % 28:02d}</span></li>"
        for n in range(k * per, min(pages, (k + 1) * per)))
    pager = " ".join(f'<a href="/list/{i}.html">{i + 1}</a>' for i in range(max(0, k - 3), min(lists, k + 4)))
    return LIST_PAGE.format(k=k + 1, items=items, pager=pager).encode()


# --- the server ----------------------------------------------------------------------------------

async def serve(corpus: Corpus, pages: int, lists: int, port: int) -> None:
    from aiohttp import web

    counts = {"list": 0, "article": 0, "robots": 0, "other": 0, "hook": 0}
    html = {"Content-Type": "text/html; charset=utf-8"}
    article_re = re.compile(r"^/news/2026/11/(\d{6})\.html$")
    list_re = re.compile(r"^/list/(\d+)\.html$")

    @lru_cache(maxsize=lists + 1)
    def cached_list(k: int) -> bytes:
        return list_page(corpus, k, pages, lists)

    async def get(request: web.Request) -> web.Response:
        path = request.path
        if m := article_re.match(path):
            n = int(m.group(1))
            if n < pages:
                counts["article"] += 1
                return web.Response(body=corpus.article(n), headers=html)
        elif m := list_re.match(path):
            k = int(m.group(1))
            if k < lists:
                counts["list"] += 1
                return web.Response(body=cached_list(k), headers=html)
        elif path == "/robots.txt":
            counts["robots"] += 1
            return web.Response(text="User-agent: *\nAllow: /\n")
        elif path == "/stats":
            return web.json_response(counts)
        counts["other"] += 1
        return web.Response(status=404, text="not found")

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        counts["hook"] += 1
        return web.json_response({"ok": True})

    async def reset(request: web.Request) -> web.Response:
        for key in counts:
            counts[key] = 0
        return web.json_response(counts)

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_post("/reset", reset)
    app.router.add_get("/{tail:.*}", get)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    bound = runner.addresses[0][1]
    print(f"READY http://127.0.0.1:{bound} templates={len(corpus.templates)} skipped={','.join(corpus.skipped) or '-'}",
          flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--lists", type=int, default=100)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    guard_loopback()
    sys.path.insert(0, str(ROOT))
    corpus = Corpus.load()
    asyncio.run(serve(corpus, args.pages, args.lists, args.port))


if __name__ == "__main__":
    main()
