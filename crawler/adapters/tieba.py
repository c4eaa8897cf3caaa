"""Baidu Tieba (百度贴吧) by its web pages: a forum's thread list → each thread → one item per floor
(楼层) and per 楼中楼 reply.

Tieba redesigns its pages every few years, so everything that names the markup is in the
``GENERATIONS`` table below, tried in order: the first generation whose selectors find threads (on
a list page) or floors (on a thread page) reads the page. The next redesign is a new row there.
Pages that yield nothing are errors, never quiet empty patrols: Baidu's verification wall
(百度安全验证) says so, a deleted or closed thread/forum says what Tieba said, anything else is
reported as changed markup.

Why HTML and not aiotieba (DESIGN §6a): this module is the HTML backend. It needs nothing but the
fetcher every source shares (per-host politeness, robots, cookies), and the bytes it reads are the
page a person opens, so the evidence kept for a hit is what the 舆情管理员 shows the leader.
aiotieba speaks Tieba's app API instead (signed requests, protobuf answers, the app's own crypto):
it survives web redesigns and is not behind the web verification wall, which makes it worth a
second backend (``backend: api`` in ``sources.yaml``, its hosts pointed at a loopback fake in
tests). That is future work: it is a second HTTP client outside the fetcher's limits and evidence
path, and it impersonates the Tieba app.

Conventions (``Item`` has no floor field, so the floor is in the URL):

* thread (every item's ``parent_url``): ``<scheme>://<host>/p/<tid>``, on the host of the page
  fetched, so a loopback copy of Tieba works like the real one.
* floor: ``<thread>?pid=<pid>#floor-<n>`` — ``?pid=`` is Tieba's own link to the page holding the
  post, ``n`` the floor number (楼) it shows; only floor 1 carries the thread's subject as its
  own title (``title_inherited`` on the others), so a subject alerts once, not once per floor.
* 楼中楼 reply: ``<thread>?pid=<floor pid>&cid=<reply id>`` — the same in HTML and JSON answers,
  so either form of one reply is one item; its floor is the floor item with that ``pid``.
* author: the name the page shows, with the account name in brackets when they differ
  (``杜草莓 (jkl028)``): nicknames change, the account is what Baidu's 举报 knows.
* times: Tieba prints Asia/Shanghai wall time; items carry aware UTC.

Depth (``read_detail``): a thread page names the thread's later pages (``?pn=N`` up to the last
one its pager links to, spelt as the pager spells them) and, for each floor whose 楼中楼 count
(``total_num``) is more than the page shows, that floor's ``/p/comment?tid=…&pid=…&pn=…`` pages
(ten replies each), which this module reads like any 楼中楼 answer. The list's reply count (回复数)
is each thread's version: the pipeline fetches a thread again only when it changes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote, urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from crawler.adapters.base import Adapter, Detail, Listing
from crawler.adapters.dates import parse_cn_datetime
from crawler.adapters.errors import ParseError
from crawler.adapters.html import html_to_text, node_text
from crawler.canonical import canonical_url
from crawler.types import FetchResult, Item

if TYPE_CHECKING:
    from crawler.config.sources import SourceSpec


@dataclass(frozen=True)
class Generation:
    """Where one generation of Tieba's markup prints each piece: CSS selectors, "" where its pages
    have no such thing. Row selectors are page-wide; the others look inside a row/floor/reply."""

    name: str
    # forum list (frs) or search result page: one row per thread
    thread_row: str = ""
    thread_link: str = ""  # an <a href="/p/<tid>…">; rows without one (ads, gaps) are skipped
    thread_title: str = ""
    thread_author: str = ""
    thread_replies: str = ""
    # thread page (pb): one element per floor
    floor: str = ""
    floor_body: str = ""  # the message; its id is "post_content_<pid>"
    floor_author: str = ""
    floor_tail: str = ""  # "来自Android客户端", "12楼", "2024-08-05 17:07": floor number and time
    subject: str = ""  # page-wide: the thread's title
    pager: str = ""  # page-wide: links to the thread's other pages (``?pn=N``), the last one among them
    reply_count: str = ""  # inside a floor: data-field {"pid": …, "total_num": its 楼中楼 replies}
    # 楼中楼 replies, inside a floor or alone (the /p/comment?tid=…&pid=… answer)
    reply: str = ""  # data-field carries the reply id as "spid"
    reply_body: str = ""
    reply_author: str = ""
    reply_time: str = ""
    noise: str = ""  # inside a title or message: page furniture, not the author's words


GENERATIONS: tuple[Generation, ...] = (
    # Desktop, ~2015–2024: raw pages (Bigpipe pagelets, unwrapped first) and as a browser renders them.
    Generation(
        name="pc-2017",
        thread_row="li.j_thread_list", thread_link="a.j_th_tit", thread_title="a.j_th_tit",
        thread_author=".tb_icon_author .frs-author-name", thread_replies=".threadlist_rep_num",
        floor="div.l_post.j_l_post", floor_body=".d_post_content", floor_author="a.p_author_name",
        floor_tail=".post-tail-wrap .tail-info", subject=".core_title_txt",
        pager="li.l_pager a[href]", reply_count=".j_lzl_r[data-field]", reply="li.lzl_single_post", reply_body=".lzl_content_main", reply_author=".lzl_cnt > a.j_user_card",
        reply_time=".lzl_time", noise=".replace_tip"),
    # Desktop thread pages before ~2015: no j_l_post class, the tail in ul.p_tail, the subject an <h1>.
    Generation(
        name="pc-2014",
        floor="div.l_post", floor_body=".d_post_content", floor_author="a.p_author_name",
        floor_tail=".p_tail li span", subject=".core_title_txt",
        pager="li.l_pager a[href]", reply_count=".j_lzl_r[data-field]", reply="li.lzl_single_post", reply_body=".lzl_content_main", reply_author=".lzl_cnt > a.j_user_card",
        reply_time=".lzl_time"),
    # Mobile (wap) forum list, 2018–2020; ads are rows linking to "javascript:;".
    Generation(
        name="wap-2018",
        thread_row="#frslistcontent > li", thread_link="a.ti_item", thread_title=".ti_title",
        thread_author=".ti_author", thread_replies=".btn_reply .btn_icon", noise=".ti_title_icon"),
    # In-forum search results (/f/search/res), 2024: one row per matching post, linking to its thread.
    Generation(
        name="search-2024",
        thread_row="div.s_post", thread_link=".p_title a", thread_title=".p_title a",
        thread_author="a[href*='/home/main']"),
)

FORUM_LIST_URL = "https://tieba.baidu.com/f"
THREADS_PER_PAGE = 50  # Tieba's list pages step ``pn`` by 50
REPLIES_PER_PAGE = 10  # a /p/comment answer holds ten 楼中楼 replies
VERIFICATION_WALL = "百度安全验证页面 (Baidu verification wall): 贴吧要求人工验证，本页未读取 (page not read)"

# A verification wall, for sure: Baidu's captcha hosts, or the wall's own <title>.
_WALL_HOSTS = frozenset({"wappass.baidu.com", "seccaptcha.baidu.com"})
_WALL_TITLE = "百度安全验证"
# Signs of a wall that a post could quote too, so they count only on a page that yields nothing.
_WALL_MARKS = re.compile(
    r"wappass\.baidu\.com/static/(?:captcha|machine)|seccaptcha\.baidu\.com|网络不给力，请稍后重试")
# What Tieba says instead of a thread or forum (also only read on a page that yields nothing).
_NOTICE = re.compile(
    r"[^。<>\n]{0,20}(?:贴子已被删除|该贴已被删除|贴子被隐藏|贴子不存在|本吧暂不开放|该吧不存在)[^。<>\n]{0,20}")
_PAGELET = re.compile(r'(<code class="pagelet_html"[^>]{0,200}>)\s*<!--')
_THREAD_HREF = re.compile(r"^(?:(?:https?:)?//[^/?#]+)?/p/(\d+)(?=[?#]|$)")
_THREAD_PATH = re.compile(r"^/p/(\d+)/?$")
_PID = re.compile(r"^post_content_(\d+)$")
_FLOOR_NO = re.compile(r"(?<!\d)(\d+)楼")
_LOOSE_PAIR = re.compile(r"'(\w+)'\s*:\s*'([^']*)'")
_PN = re.compile(r"(?<=[?&])pn=(\d+)")


@dataclass(frozen=True)
class Thread:
    """A thread as a list page shows it (the reply count is what tells an updated thread)."""

    url: str
    title: str
    author: str | None
    replies: int | None


class TiebaAdapter(Adapter):
    """百度贴吧：按吧名读取帖子列表 → 帖子 → 每个楼层和楼中楼各一条；识别百度安全验证 (Tieba floors and replies)."""

    def start_urls(self, source: SourceSpec) -> list[str]:
        """List pages 1…``pages`` of the forum; ``url``, when set, replaces ``https://tieba.baidu.com/f``."""
        if not source.forum:
            raise ParseError("tieba 类型需要 forum（吧名） (forum missing)")
        base = source.url or FORUM_LIST_URL
        joiner = "&" if "?" in base else "?"
        forum = quote(source.forum, safe="")
        return [f"{base}{joiner}kw={forum}&ie=utf-8&pn={THREADS_PER_PAGE * i}" for i in range(source.pages or 1)]

    def parse_list(self, result: FetchResult, source: SourceSpec) -> Listing:
        """Thread links in page order, sticky threads included, each with its reply count (回复数)
        as the version that tells an updated thread; the floors come from the threads."""
        threads = list_threads(result)
        return Listing(links=[thread.url for thread in threads],
                       versions={t.url: None if t.replies is None else str(t.replies) for t in threads})

    def read_detail(self, result: FetchResult, source: SourceSpec) -> Detail:
        """Floors and the 楼中楼 replies shown with them, then the thread's later pages and the
        ``/p/comment`` pages of floors with more replies than shown; or, for a
        ``/p/comment?tid=…&pid=…`` answer, that floor's replies."""
        tree = _page(result)
        thread = thread_url(result.final_url) or thread_url(result.url)  # a deleted thread may redirect
        if thread is None:
            raise ParseError(f"不是贴吧帖子地址 (not a Tieba thread URL: /p/<tid>): {result.final_url}")
        for generation in GENERATIONS:
            if generation.floor and (floors := tree.css(generation.floor)):
                found = _PN.search("?" + urlsplit(result.final_url).query)
                page = int(found[1]) if found else 1
                items = _floors(tree, generation, floors, thread, result, source.id, first_page=page == 1)
                return Detail(items, _later_pages(tree, generation, result.final_url, page),
                              _reply_pages(floors, generation, thread), page)
        pid = parse_qs(urlsplit(result.final_url).query).get("pid", [""])[0]
        if pid.isdigit():
            for generation in GENERATIONS:
                if generation.reply and (replies := tree.css(generation.reply)):
                    return Detail(_replies(replies, generation, thread, pid, "", result.fetched_at, source.id))
        raise _nothing_found(tree, result, "楼层", "floors")

    def parse_detail(self, result: FetchResult, source: SourceSpec) -> list[Item]:
        return self.read_detail(result, source).items


def list_threads(result: FetchResult) -> list[Thread]:
    """The threads on a forum list (or search result) page, each once, in page order."""
    tree = _page(result)
    origin = _origin(result.final_url)
    for generation in GENERATIONS:
        if not generation.thread_row:
            continue
        threads: dict[str, Thread] = {}
        for row in tree.css(generation.thread_row):
            link = row.css_first(generation.thread_link)
            m = _THREAD_HREF.match((link.attributes.get("href") or "").strip()) if link is not None else None
            if m is None or f"{origin}/p/{m[1]}" in threads:
                continue
            url = f"{origin}/p/{m[1]}"
            threads[url] = Thread(
                url=url, title=_line(row.css_first(generation.thread_title), generation.noise),
                author=_person(row.css_first(generation.thread_author)) if generation.thread_author else None,
                replies=_count(row.css_first(generation.thread_replies)) if generation.thread_replies else None)
        if threads:
            return list(threads.values())
    raise _nothing_found(tree, result, "帖子列表", "threads")


def thread_url(url: str) -> str | None:
    """``<scheme>://<host>/p/<tid>`` for a thread page (any page of it, any query) or a
    ``/p/comment?tid=…`` answer; ``None`` for other URLs."""
    parts = urlsplit(url)
    m = _THREAD_PATH.match(parts.path)
    tid = m[1] if m else parse_qs(parts.query).get("tid", [""])[0]
    return f"{_origin(url)}/p/{tid}" if tid.isdigit() else None


def parse_lzl_json(data: bytes | str, thread_url: str, source_id: str, fetched_at: datetime, *,
                   title: str = "") -> list[Item]:
    """楼中楼 replies from Tieba's JSON answer (``/p/totalComment?tid=…``: ``data.comment_list``
    keyed by floor pid), as items of the thread at ``thread_url`` (whose subject is ``title``)."""
    try:
        answer = json.loads(data)
    except ValueError:
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        if _WALL_TITLE in text or _WALL_MARKS.search(text):
            raise ParseError(VERIFICATION_WALL) from None
        raise ParseError("楼中楼接口没有返回 JSON (the 楼中楼 answer is not JSON)") from None
    if not isinstance(answer, dict) or answer.get("errno", 0) != 0:
        said = f"{answer.get('errno')} {answer.get('errmsg')}" if isinstance(answer, dict) else type(answer).__name__
        raise ParseError(f"楼中楼接口报错 (the 楼中楼 API says): {said}")
    data_part = answer.get("data")
    comments = data_part.get("comment_list") if isinstance(data_part, dict) else None
    if not isinstance(comments, dict):  # PHP writes an empty comment_list as []
        return []
    items: list[Item] = []
    for pid, floor in comments.items():
        shown = floor.get("comment_info") if isinstance(floor, dict) else None
        for comment in shown if isinstance(shown, list) else []:
            if not isinstance(comment, dict):
                continue
            cid, text = str(comment.get("comment_id") or ""), html_to_text(str(comment.get("content") or ""))
            if not cid.isdigit() or not text:  # smileys only
                continue
            stamp = comment.get("now_time")
            items.append(Item(
                url=f"{thread_url}?pid={pid}&cid={cid}", source_id=source_id, title=title, text=text,
                fetched_at=fetched_at, author=str(comment.get("username") or "") or None,
                published_at=datetime.fromtimestamp(stamp, timezone.utc) if isinstance(stamp, int) else None,
                parent_url=thread_url, title_inherited=True))
    return items


def _page(result: FetchResult) -> LexborHTMLParser:
    """The parsed page, refused if it is the verification wall. Raw desktop pages ship their HTML
    commented out in ``<code class="pagelet_html">`` for JavaScript to insert: it is uncommented
    first, by a linear scan (a regex over a hostile 10 MB page could take minutes)."""
    if urlsplit(result.final_url).hostname in _WALL_HOSTS:
        raise ParseError(VERIFICATION_WALL)
    markup, parts, pos = result.text, [], 0
    for m in _PAGELET.finditer(markup):
        if m.start() < pos:
            continue
        end = markup.find("-->", m.end())
        if end < 0:
            break
        parts += [markup[pos:m.start()], m[1], markup[m.end():end]]
        pos = end + 3
    tree = LexborHTMLParser("".join(parts) + markup[pos:])
    title = tree.css_first("title")
    if title is not None and title.text().strip() == _WALL_TITLE:
        raise ParseError(VERIFICATION_WALL)
    return tree


def _nothing_found(tree: LexborHTMLParser, result: FetchResult, what: str, english: str) -> ParseError:
    """Why a page gave nothing: the wall, Tieba's own notice, or markup this module does not know."""
    if _WALL_MARKS.search(result.text):
        return ParseError(VERIFICATION_WALL)
    if tree.body is not None and (notice := _NOTICE.search(node_text(tree.body))):
        return ParseError(f"贴吧提示 (Tieba says): {notice[0].strip()}")
    return ParseError(f"页面中没有找到{what}，贴吧页面可能已改版 (no {english} found: the markup changed)")


def _later_pages(tree: LexborHTMLParser, generation: Generation, page_url: str, page: int) -> list[str]:
    """The thread's pages after ``page``, up to the last one its pager links to, spelt as the
    pager spells them (a 只看楼主 ``see_lz`` view stays one)."""
    last, spelling = page, ""
    for anchor in tree.css(generation.pager) if generation.pager else []:
        href = (anchor.attributes.get("href") or "").strip()
        found = _PN.search(href)
        if found and thread_url(urljoin(page_url, href)) == thread_url(page_url) and int(found[1]) > last:
            last, spelling = int(found[1]), urljoin(page_url, href)
    return [_PN.sub(f"pn={n}", spelling) for n in range(page + 1, last + 1)]


def _reply_pages(floors: list[LexborNode], generation: Generation, thread: str) -> list[str]:
    """``/p/comment?tid=…&pid=…&pn=…`` pages of each floor that has more 楼中楼 replies than the
    thread page shows (it shows a few, or none in raw pages of 2015–2017)."""
    if not generation.reply_count:
        return []
    tid = thread.rpartition("/")[2]
    pages: list[str] = []
    for floor in floors:
        node = floor.css_first(generation.reply_count)
        field = _data_field(node) if node is not None else {}
        pid, total = str(field.get("pid") or ""), field.get("total_num")
        if pid.isdigit() and isinstance(total, int) and total > len(floor.css(generation.reply)):
            pages += [f"{thread.rpartition('/p/')[0]}/p/comment?tid={tid}&pid={pid}&pn={n}"
                      for n in range(1, -(-total // REPLIES_PER_PAGE) + 1)]
    return pages


def _floors(tree: LexborHTMLParser, generation: Generation, floors: list[LexborNode], thread: str,
            result: FetchResult, source_id: str, *, first_page: bool) -> list[Item]:
    """One item per floor with text (floor 1 always: its subject is matched even under a picture),
    each followed by its 楼中楼 replies."""
    subject = _line(tree.css_first(generation.subject))
    items: list[Item] = []
    read = 0
    for floor in floors:
        body = floor.css_first(generation.floor_body)
        m = _PID.match(body.attributes.get("id") or "") if body is not None else None
        if body is None or m is None:  # an ad among the floors
            continue
        read += 1
        tail = " ".join(_line(node) for node in floor.css(generation.floor_tail))
        found = _FLOOR_NO.search(tail)
        number = int(found[1]) if found else None
        opens = number == 1 if number is not None else (first_page and read == 1)
        text = _message(body, generation.noise)
        if text or opens:
            items.append(Item(
                url=f"{thread}?pid={m[1]}" + (f"#floor-{number}" if number is not None else ""),
                source_id=source_id, title=subject, text=text, fetched_at=result.fetched_at,
                author=_person(floor.css_first(generation.floor_author)),
                published_at=_when(tail, result.fetched_at),
                parent_url=thread, title_inherited=not opens))
        items += _replies(floor.css(generation.reply), generation, thread, m[1], subject, result.fetched_at,
                          source_id)
    if not read:
        raise ParseError(f"找到 {len(floors)} 个楼层但没有正文，贴吧页面可能已改版 "
                         "(floors without messages: the markup changed)")
    return items


def _replies(nodes: list[LexborNode], generation: Generation, thread: str, pid: str, subject: str,
             fetched_at: datetime, source_id: str) -> list[Item]:
    """The 楼中楼 replies among ``nodes`` that say something (smiley-only ones do not)."""
    items: list[Item] = []
    for node in nodes:
        cid = str(_data_field(node).get("spid") or "")
        body = node.css_first(generation.reply_body)
        text = _message(body, generation.noise) if body is not None else ""
        if not cid.isdigit() or not text:
            continue
        items.append(Item(
            url=f"{thread}?pid={pid}&cid={cid}", source_id=source_id, title=subject, text=text,
            fetched_at=fetched_at, author=_person(node.css_first(generation.reply_author)),
            published_at=_when(_line(node.css_first(generation.reply_time)), fetched_at), parent_url=thread,
            title_inherited=True))
    return items


def _origin(url: str) -> str:
    parts = urlsplit(canonical_url(url))
    return f"{parts.scheme}://{parts.netloc}"


def _message(node: LexborNode, noise: str) -> str:
    """The words of a message, one line per line break, without ``noise``."""
    skip = {n.mem_id for n in node.css(noise)} if noise else set()
    return node_text(node, skip)


def _line(node: LexborNode | None, noise: str = "") -> str:
    return " ".join(_message(node, noise).split()) if node is not None else ""


def _count(node: LexborNode | None) -> int | None:
    text = _line(node)
    return int(text) if text.isdigit() else None


def _when(text: str, now: datetime) -> datetime | None:
    """The first time in ``text`` (Beijing wall time; relative ones count back from ``now``), in UTC."""
    found = parse_cn_datetime(text, now)
    return found.astimezone(timezone.utc) if found else None


def _data_field(node: LexborNode) -> dict[str, object]:
    """A ``data-field`` attribute: JSON, or Baidu's single-quoted ``{'un':'…','spid':'…'}``."""
    raw = node.attributes.get("data-field") or ""
    try:
        value = json.loads(raw)
    except ValueError:
        return dict(_LOOSE_PAIR.findall(raw))
    return value if isinstance(value, dict) else {}


def _person(node: LexborNode | None) -> str | None:
    """The shown name, with the account name (``un`` / ``username``) in brackets when it differs."""
    if node is None:
        return None
    shown = _line(node)
    account = str(_data_field(node).get("un") or node.attributes.get("username") or "").strip()
    if shown.endswith("...") and account.startswith(shown[:-3]):  # a long name cut short for the list
        shown = account
    if not shown or shown == account:
        return account or shown or None
    return f"{shown} ({account})" if account else shown
