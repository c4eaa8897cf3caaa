"""Forum threads in depth, patrol after patrol, through the real pipeline against loopback sites:
a thread's later pages and its 楼中楼 pages are read; an unchanged thread is not fetched again, an
updated one is read on from its last page; paging a list stops at a page with nothing new; a
redirected article is fetched once; control characters never reach the database.

The forum pages are built here in the markup of the generations the adapters read (Tieba pc-2017,
Discuz! X3; the real pages of those generations are in tests/crawler/adapters/), so each patrol's
change — a new floor, a new reply count — is one edit of a small table.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from aiohttp import web
from e2e_site import yuqing
from loopback import Site
from sqlalchemy import select

from crawler.adapters import DiscuzAdapter, HtmlAdapter, RssAdapter, TiebaAdapter
from crawler.config.keywords import Keywords
from crawler.config.sources import SourceSpec
from crawler.fetch import Fetcher
from crawler.match import Ruleset
from crawler.pipeline import RunContext, crawl_source
from crawler.types import FetchPolicy
from storage import db, queries
from storage.models import HitRow, ItemRow, LinkState

POLICY = FetchPolicy(allow_private_networks=True, delay_s=0, obey_robots=False)


def _key(path: str, query: list[tuple[str, str]]) -> str:
    return path + ("?" + urlencode(sorted(query)) if query else "")


@dataclass
class Forum(Site):
    """A loopback site whose pages are keyed by path and query (``?pn=2`` is another page than
    ``?pn=1``), with redirects; counts requests per page."""

    redirects: dict[str, tuple[int, str]] = field(default_factory=dict)

    def put(self, url: str, text: str) -> None:
        parts = urlsplit(url)
        self.add(_key(parts.path, parse_qsl(parts.query)), text)

    def count(self, url: str) -> int:
        parts = urlsplit(url)
        return self.hits.get(_key(parts.path, parse_qsl(parts.query)), 0)

    async def _handle(self, request: web.Request) -> web.Response:
        key = _key(request.path, list(request.query.items()))
        self.hits[key] = self.hits.get(key, 0) + 1
        if key in self.redirects:
            status, target = self.redirects[key]
            return web.Response(status=status, headers={"Location": target})
        page = self.pages.get(key)
        if page is None:
            return web.Response(status=404, text="not found")
        return web.Response(body=page.body, status=page.status, headers={"Content-Type": page.content_type})


@pytest.fixture
async def site() -> AsyncIterator[Forum]:
    forum = Forum()
    await forum.start()
    yield forum
    await forum.stop()


async def _context(url: str, keywords: Keywords, fetcher: Fetcher) -> tuple[RunContext, object]:
    engine = db.make_engine(url)
    await db.upgrade(engine)
    return RunContext(fetcher, db.sessionmaker(engine), Ruleset.compile(keywords), lambda grade: []), engine


@pytest.fixture
async def context(tmp_path: Path) -> AsyncIterator[RunContext]:
    async with Fetcher() as fetcher:
        ctx, engine = await _context(f"sqlite+aiosqlite:///{tmp_path / 'yuqing.db'}", Keywords(), fetcher)
        yield ctx
        await engine.dispose()  # type: ignore[attr-defined]


async def stored(ctx: RunContext) -> dict[str, ItemRow]:
    async with ctx.sessions() as session:
        return {row.url: row for row in (await session.scalars(select(ItemRow))).all()}


# --- Tieba (pc-2017 markup: list rows, floors with tails, 楼中楼 counts and /p/comment pages) ----------

@dataclass
class Floor:
    pid: int
    number: int
    text: str
    replies: list[tuple[int, str]] = field(default_factory=list)  # 楼中楼 (cid, text), all of them
    shown: int = 2  # how many of them the thread page embeds


def tieba_list(threads: list[tuple[int, str, int]]) -> str:
    rows = "".join(
        f'<li class="j_thread_list clearfix"><span class="threadlist_rep_num">{replies}</span>'
        f'<a class="j_th_tit" href="/p/{tid}">{title}</a>'
        f'<span class="tb_icon_author"><a class="frs-author-name">楼主{tid}</a></span></li>'
        for tid, title, replies in threads)
    return f'<html><head><title>化隆吧</title></head><body><ul id="thread_list">{rows}</ul></body></html>'


def _lzl(cid: int, text: str) -> str:
    return (f"<li class=\"lzl_single_post\" data-field='{{\"spid\":{cid}}}'><div class=\"lzl_cnt\">"
            f'<a class="j_user_card" username="u{cid}">回复者{cid}</a>：'
            f'<span class="lzl_content_main">{text}</span><span class="lzl_time">2024-8-6 22:17</span></div></li>')


def tieba_thread(tid: int, subject: str, page: int, last: int, floors: list[Floor]) -> str:
    pager = "".join(f'<a href="/p/{tid}?pn={n}">{n}</a>' for n in range(1, last + 1) if n != page)
    body = "".join(
        f'<div class="l_post j_l_post"><a class="p_author_name" username="u{f.pid}">作者{f.pid}</a>'
        f'<div class="d_post_content" id="post_content_{f.pid}">{f.text}</div>'
        f'<div class="post-tail-wrap"><span class="tail-info">{f.number}楼</span>'
        f'<span class="tail-info">2024-08-05 17:{f.number:02d}</span></div>'
        f"<div class=\"j_lzl_r p_reply\" data-field='{{\"pid\":{f.pid},\"total_num\":{len(f.replies)}}}'></div>"
        f'<ul class="j_lzl_m_w">{"".join(_lzl(c, t) for c, t in f.replies[:f.shown])}</ul></div>'
        for f in floors)
    return (f'<html><head><title>{subject}_化隆吧_百度贴吧</title></head><body>'
            f'<h3 class="core_title_txt">{subject}</h3><li class="l_pager pager_theme_4">{pager}</li>'
            f"{body}</body></html>")


def tieba_comment(replies: list[tuple[int, str]]) -> str:
    return "".join(_lzl(c, t) for c, t in replies)


def tieba_forum(site: Forum, thread_1: list[list[Floor]], list_pages: int = 1) -> None:
    """Thread 100 (pages as given, floor pids 1000+n), thread 200 (one page) on list page 1, thread 300
    on list page 2; the /p/comment pages of every floor with more replies than shown."""
    replies_1 = sum(len(page) for page in thread_1) - 1
    site.put("/f?kw=化隆&ie=utf-8&pn=0", tieba_list([(100, "县二幼的午饭", replies_1), (200, "报名问题", 1)]))
    site.put("/f?kw=化隆&ie=utf-8&pn=50", tieba_list([(300, "老帖", 0)]))
    threads = {100: ("县二幼的午饭", thread_1), 200: ("报名问题", [[Floor(2001, 1, "怎么报名"), Floor(2002, 2, "去幼儿园问")]]),
               300: ("老帖", [[Floor(3001, 1, "很久以前的帖子")]])}
    for tid, (subject, pages) in threads.items():
        for n, floors in enumerate(pages, 1):
            site.put(f"/p/{tid}" + (f"?pn={n}" if n > 1 else ""), tieba_thread(tid, subject, n, len(pages), floors))
            for floor in floors:
                for pn in range(1, (len(floor.replies) + 9) // 10 + 1):
                    site.put(f"/p/comment?tid={tid}&pid={floor.pid}&pn={pn}",
                             tieba_comment(floor.replies[(pn - 1) * 10:pn * 10]))


def thread_100(extra: int = 0) -> list[list[Floor]]:
    replies = [(5000 + i, f"楼中楼第{i}条") for i in range(1, 13)]  # 12: two /p/comment pages
    page_2 = [Floor(1004, 4, "第二页的四楼：孩子们都好了吗"), Floor(1005, 5, "五楼")]
    page_2 += [Floor(1005 + i, 5 + i, f"新回复{i}") for i in range(1, extra + 1)]
    return [[Floor(1001, 1, "今天中午县二幼好几个孩子肚子疼"), Floor(1002, 2, "我家也是", replies), Floor(1003, 3, "三楼")],
            page_2]


async def test_tieba_threads_are_read_to_their_last_page_and_then_only_when_they_change(
        site: Forum, context: RunContext) -> None:
    tieba_forum(site, thread_100())
    source = SourceSpec(id="tieba", type="tieba", forum="化隆", url=f"{site.base}/f", pages=2, max_pages=10)
    b = site.base

    first = await crawl_source(source, TiebaAdapter(), POLICY, context)
    # 2 list pages; thread 100: 2 pages + 2 /p/comment pages of floor 2; threads 200 and 300
    assert (first.fetched, first.failed, first.errors) == (8, 0, [])
    items = await stored(context)
    assert first.new_items == len(items) == 5 + 12 + 2 + 1  # floors, 楼中楼 (2 embedded ones too), others
    floor_4 = items[f"{b}/p/100?pid=1004#floor-4"]
    assert (floor_4.parent_url, floor_4.author, floor_4.text) == (f"{b}/p/100", "作者1004 (u1004)", "第二页的四楼：孩子们都好了吗")
    assert floor_4.title == "县二幼的午饭" and floor_4.published_at is not None
    assert floor_4.published_at.isoformat() == "2024-08-05T09:04:00+00:00"  # 17:04 in Beijing
    reply_12 = items[f"{b}/p/100?pid=1002&cid=5012"]  # from /p/comment page 2
    assert (reply_12.parent_url, reply_12.text, reply_12.author) == (f"{b}/p/100", "楼中楼第12条", "回复者5012 (u5012)")

    # Nothing changed: the list's first page only; no thread page, and list page 2 is not paged to.
    second = await crawl_source(source, TiebaAdapter(), POLICY, context)
    assert (second.fetched, second.failed, second.new_items) == (1, 0, 0)
    assert site.count("/f?kw=化隆&ie=utf-8&pn=50") == 1
    assert all(site.count(f"/p/{tid}") == 1 for tid in (100, 200, 300)) and site.count("/p/100?pn=2") == 1

    # Two new floors on page 2 of thread 100 (the list shows 6 replies instead of 4): read from page 2 on.
    tieba_forum(site, thread_100(extra=2))
    third = await crawl_source(source, TiebaAdapter(), POLICY, context)
    # list page 1, list page 2 (page 1 had something new), page 2 of the thread
    assert (third.fetched, third.failed, third.new_items) == (3, 0, 2)
    assert site.count("/p/100") == 1 and site.count("/p/100?pn=2") == 2 and site.count("/p/200") == 1
    new = set(await stored(context)) - set(items)
    assert new == {f"{b}/p/100?pid=1006#floor-6", f"{b}/p/100?pid=1007#floor-7"}


async def test_a_long_thread_is_read_max_pages_a_patrol_and_on_from_where_it_stopped(
        site: Forum, context: RunContext) -> None:
    pages = [[Floor(1000 + n, n, f"第{n}页的楼")] for n in range(1, 7)]
    tieba_forum(site, pages)
    source = SourceSpec(id="tieba", type="tieba", forum="化隆", url=f"{site.base}/f", max_pages=3)
    runs = [await crawl_source(source, TiebaAdapter(), POLICY, context, max_items=1) for _ in range(3)]
    # pages 1-3, then 4-6 (the thread unchanged, but not read to its end), then thread 200's turn
    assert [(run.fetched, run.new_items) for run in runs] == [(4, 3), (4, 3), (2, 2)]
    assert [site.count(f"/p/100?pn={n}") for n in range(2, 7)] == [1] * 5 and site.count("/p/100") == 1
    async with context.sessions() as session:
        state = await session.get(LinkState, f"{site.base}/p/100")
    assert state is not None and (state.version, state.page, state.page_url) == ("5", 6, f"{site.base}/p/100?pn=6")


async def test_a_thread_whose_last_page_read_is_gone_is_read_from_page_1_next_time(
        site: Forum, context: RunContext) -> None:
    tieba_forum(site, thread_100())
    source = SourceSpec(id="tieba", type="tieba", forum="化隆", url=f"{site.base}/f", max_pages=10)
    await crawl_source(source, TiebaAdapter(), POLICY, context)
    # page 2's floors deleted: one page left, with a new floor on it (the list shows 3 replies, not 4)
    del site.pages["/p/100?pn=2"]
    tieba_forum(site, [thread_100()[0] + [Floor(1008, 8, "删帖以后的新回复")]])
    gone = await crawl_source(source, TiebaAdapter(), POLICY, context)
    assert (gone.failed, gone.new_items) == (1, 0) and site.count("/p/100?pn=2") == 2
    back = await crawl_source(source, TiebaAdapter(), POLICY, context)
    assert (back.failed, back.new_items) == (0, 1) and site.count("/p/100") == 2
    assert f"{site.base}/p/100?pid=1008#floor-8" in await stored(context)


# --- Discuz! X3 (file-form URLs: forum-2-1.html, thread-T-P-1.html) ------------------------------------

def discuz_list(threads: list[tuple[int, str, int]]) -> str:
    rows = "".join(
        f'<tbody id="normalthread_{tid}"><tr><th class="new"><a href="thread-{tid}-1-1.html" class="s xst">{title}</a></th>'
        f'<td class="num"><a href="thread-{tid}-1-1.html" class="xi2">{replies}</a><em>99</em></td></tr></tbody>'
        for tid, title, replies in threads)
    return (f'<html><head><base href="{{base}}/"><title>家长交流</title></head><body><div id="threadlist">'
            f'<table id="threadlisttableid">{rows}</table></div></body></html>')


def discuz_thread(tid: int, subject: str, page: int, last: int, posts: list[tuple[int, str]]) -> str:
    pager = "".join(f'<a href="thread-{tid}-{n}-1.html">{n}</a>' if n != page else f"<strong>{n}</strong>"
                    for n in range(1, last + 1))
    body = "".join(
        f'<table id="pid{pid}" class="plhin"><tr><td class="pls"><div class="authi"><a class="xw1">会员{pid}</a></div></td>'
        f'<td class="plc"><em id="authorposton{pid}">发表于 2024-5-10 12:{pid % 60:02d}</em>'
        f'<table><tr><td class="t_f" id="postmessage_{pid}">{text}</td></tr></table></td></tr></table>'
        for pid, text in posts)
    return (f'<html><head><base href="{{base}}/"><title>{subject} - 家长交流</title></head><body>'
            f'<div id="pgt"><div class="pg">{pager}</div></div><h1><span id="thread_subject">{subject}</span></h1>'
            f'<div id="postlist">{body}</div></body></html>')


def discuz_forum(site: Forum, replies: list[tuple[int, str]]) -> None:
    """Thread 7 with two pages of posts (three a page), thread 8 with one."""
    pages = [replies[i:i + 3] for i in range(0, len(replies), 3)]
    site.put("/forum-2-1.html", discuz_list([(7, "食堂的饭菜", len(replies) - 1), (8, "开学时间", 0)])
             .replace("{base}", site.base))
    for n, posts in enumerate(pages, 1):
        site.put(f"/thread-7-{n}-1.html", discuz_thread(7, "食堂的饭菜", n, len(pages), posts).replace("{base}", site.base))
    site.put("/thread-8-1-1.html", discuz_thread(8, "开学时间", 1, 1, [(801, "九月一日")]).replace("{base}", site.base))


async def test_discuz_threads_are_paged_and_updated_threads_read_on(site: Forum, context: RunContext) -> None:
    posts = [(700 + i, f"第{i}楼：饭菜太咸") for i in range(1, 6)]
    discuz_forum(site, posts)
    source = SourceSpec(id="bbs", type="discuz", url=f"{site.base}/forum-2-1.html")

    first = await crawl_source(source, DiscuzAdapter(), POLICY, context)
    assert (first.fetched, first.failed, first.new_items) == (4, 0, 6)
    items = await stored(context)
    thread = f"{site.base}/thread-7-1-1.html"
    post_4 = items[f"{thread}#pid704"]  # page 2
    assert (post_4.parent_url, post_4.author, post_4.text, post_4.title) == (thread, "会员704", "第4楼：饭菜太咸", "食堂的饭菜")

    second = await crawl_source(source, DiscuzAdapter(), POLICY, context)
    assert (second.fetched, second.new_items) == (1, 0) and site.count("/thread-7-1-1.html") == 1

    posts.append((706, "第6楼：今天换了厨师"))  # page 2 gets a post; the list shows 5 replies
    discuz_forum(site, posts)
    third = await crawl_source(source, DiscuzAdapter(), POLICY, context)
    assert (third.fetched, third.new_items) == (2, 1)
    assert site.count("/thread-7-1-1.html") == 1 and site.count("/thread-7-2-1.html") == 2
    assert set(await stored(context)) - set(items) == {f"{thread}#pid706"}


# --- redirected article links ----------------------------------------------------------------------

ARTICLE = """<html><head><title>{title}</title></head><body><div class="article"><h1>{title}</h1>
<p>{text}</p><p>{text}县教育局表示将持续关注，并通报处理结果。</p></div></body></html>"""


async def test_a_redirected_article_link_is_fetched_once(site: Forum, context: RunContext) -> None:
    site.put("/list.html", '<html><body><ul class="list"><li><a href="/a/1">一</a></li>'
                           '<li><a href="/a/2">二</a></li><li><a href="/news/3.html">三</a></li></ul></body></html>')
    site.redirects["/a/1"] = (301, "/news/1.html")
    site.redirects["/a/2"] = (302, f"{site.base}/news/2.html")
    for n in (1, 2, 3):
        site.put(f"/news/{n}.html", ARTICLE.format(title=f"第{n}条新闻", text=f"化隆县第{n}条新闻的正文内容。" * 5))
    source = SourceSpec(id="news", type="html", url=f"{site.base}/list.html", link_selector="ul.list a")

    first = await crawl_source(source, HtmlAdapter(), POLICY, context)
    assert (first.fetched, first.failed, first.new_items) == (4, 0, 3)
    assert set(await stored(context)) == {f"{site.base}/news/{n}.html" for n in (1, 2, 3)}  # the final URLs
    for _ in range(2):
        again = await crawl_source(source, HtmlAdapter(), POLICY, context)
        assert (again.fetched, again.new_items) == (1, 0)
    assert [site.count(path) for path in ("/a/1", "/a/2", "/news/1.html", "/news/3.html")] == [1, 1, 1, 1]
    async with context.sessions() as session:  # only the links whose items live under another URL
        links = (await session.scalars(select(LinkState.url))).all()
    assert sorted(links) == [f"{site.base}/a/1", f"{site.base}/a/2"]


# --- control characters (PostgreSQL refuses NUL in text) -----------------------------------------------

FEED = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>县新闻</title>'
        "<item><title>化\x00隆二幼\x07食物中毒</title><link>{base}/n/1.html</link><author>记\x00者</author>"
        "<description>今天\x00中午\x1f化隆二幼多名幼儿呕吐。\t已送医。</description></item>"
        "<item><title>普通新闻</title><link>{base}/n/2.html</link><description>天气晴\x00。</description></item>"
        "</channel></rss>")


async def test_control_characters_are_stripped_before_matching_and_storing(site: Forum, db_url: str) -> None:
    site.add("/rss.xml", FEED.replace("{base}", site.base).encode(), content_type="application/rss+xml")
    keywords = Keywords.from_documents([{"rules": [{"id": "school", "category": "安全", "any": ["化隆二幼"]}]}])
    source = SourceSpec(id="feed", type="rss", url=f"{site.base}/rss.xml")
    async with Fetcher() as fetcher:
        ctx, engine = await _context(db_url, keywords, fetcher)
        try:
            stats = await crawl_source(source, RssAdapter(), POLICY, ctx)
            items = await stored(ctx)
            async with ctx.sessions() as session:
                hit = (await session.scalars(select(HitRow))).one()
        finally:
            await engine.dispose()  # type: ignore[attr-defined]
    assert (stats.failed, stats.errors, stats.new_items, stats.hits) == (0, [], 2, 1)
    first = items[f"{site.base}/n/1.html"]
    assert (first.title, first.author) == ("化隆二幼食物中毒", "记者")
    assert first.text == "今天中午 化隆二幼多名幼儿呕吐。 已送医。"  # \x1f and \t are whitespace to the feed reader
    assert items[f"{site.base}/n/2.html"].text == "天气晴。"
    assert {t["term"] for t in hit.terms} == {"化隆二幼"}
    title_term = next(t for t in hit.terms if t["field"] == "title")
    assert first.title[title_term["start"]:title_term["end"]] == "化隆二幼"  # offsets into the stored text



# --- yuqing test-source: the same depth, nothing stored ----------------------------------------------

async def test_test_source_reads_thread_depth_and_stores_nothing(site: Forum, tmp_path: Path) -> None:
    tieba_forum(site, thread_100())
    config, data = tmp_path / "config", tmp_path / "data"
    (config / "keywords").mkdir(parents=True)
    (config / "keywords" / "rules.yaml").write_text(
        "rules:\n  - id: school\n    category: 安全\n    any: [孩子们都好了吗]\n", encoding="utf-8")
    (config / "sources.yaml").write_text(f"""\
allow_private_networks: true
defaults: {{delay: 0s, retries: 0}}
sources:
  - id: tieba
    type: tieba
    forum: 化隆
    url: {site.base}/f
    robots: ignore
    max_pages: 10
""", encoding="utf-8")
    for _ in range(2):  # the second run sees the same: no thread was remembered as read
        code, out, err = await yuqing(config, data, "test-source", "tieba", "--json")
        assert code == 0, out + err
        probe = json.loads(out)
        by_url = {item["url"].removeprefix(site.base): item for item in probe["items"]}
        assert by_url["/p/100?pid=1004#floor-4"]["rules"] == ["school"]  # page 2, matched
        assert by_url["/p/100?pid=1002&cid=5012"]["text"] == "楼中楼第12条"  # a /p/comment page
        assert (probe["fetched"], len(by_url)) == (6, 5 + 12 + 2)
    assert site.count("/p/100?pn=2") == 2 and not data.exists()
