"""Discuz! X2/X3 forums: a board's thread list → threads → one item per post.

Discuz boards differ by version and skin but keep their URL patterns (``forum-N-P.html`` /
``forum.php?mod=forumdisplay&fid=N``, ``thread-T-P-1.html`` / ``forum.php?mod=viewthread&tid=T``)
and the ids its JavaScript needs (``pid…``, ``postmessage_…``, ``authorposton…``,
``thread_subject``). Those anchor the ``TEMPLATES`` table; a skin that moves something else is a
one-line edit there.

Conventions: a post's URL is ``<thread URL>#pid<pid>`` (Discuz's own anchor), its parent the
thread's page-1 URL in the site's form. Quoted posts (``引用``) are left out of a reply's text:
the quoted post is an item of its own, and repeating its words would raise its alert again on
every reply that quotes it. The "回复 5# 张三" reply header, edit notes, signatures, ads,
attachment boxes and the invisible anti-copy "jammer" text are left out too.

Depth: a thread page names the thread's later pages, up to the last one its pager links to, spelt
like the page fetched (``thread-T-P-1.html`` / ``…&page=P``); each list row's reply count (回复) is
the thread's version, so the pipeline fetches a thread again only when it changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from crawler.adapters.base import Adapter, Detail, Listing
from crawler.adapters.errors import ParseError
from crawler.adapters.dates import parse_cn_datetime
from crawler.adapters.html import node_text
from crawler.canonical import canonical_url
from crawler.types import FetchResult, Item

if TYPE_CHECKING:
    from crawler.config.sources import SourceSpec


@dataclass(frozen=True)
class Template:
    """Where one template generation prints each piece: CSS selectors, ``{pid}`` = the post id."""

    name: str
    thread_link: str  # list page: the subject link of every thread row (sticky ones included)
    post: str  # thread page: one element per post, its id "pid<pid>"
    body: str  # the post's message
    author: str  # inside the post element; the first one with text wins
    posted: str  # the "发表于 …" element; a <span title="2015-3-5 14:02:33"> in it wins
    subject: str  # the thread's title
    noise: str  # inside the message: not the author's words
    row: str = ""  # list page: one element per thread row …
    row_link: str = ""  # … its subject link
    replies: str = ""  # … and its reply count (回复), the version that tells an updated thread
    pager: str = ""  # thread page: links to the thread's other pages, the last one among them


_NOISE = ("i.pstatus, div.quote, blockquote, strong:has(a[href*='goto=findpost']), .jammer, "
          "[style*='display:none'], [style*='display: none'], ignore_js_op, .aimg_tip, .tip, dl.tattl, "
          ".attach_nopermission, .locked, .a_pr, .a_pt, .a_pb, .sign")
_ROWS = "tbody[id^=normalthread_] a.xst, tbody[id^=stickthread_] a.xst, #waterfall h3 a"
_ROW = dict(row="tbody[id^=normalthread_], tbody[id^=stickthread_]", row_link="a.xst", replies="td.num a",
            pager="div.pg a[href]")
# Tried in order; the first that finds threads (list) or posts (thread page) is used.
TEMPLATES: tuple[Template, ...] = (
    Template(name="X3", thread_link=_ROWS, post="table.plhin[id^=pid]", body="#postmessage_{pid}",
             author=".pls .authi a.xw1, .plc .authi a.xi2", posted="#authorposton{pid}",
             subject="#thread_subject", noise=_NOISE, **_ROW),
    # X2/X2.5: the post table has no class; the rest is as in X3.
    Template(name="X2", thread_link=_ROWS, post="table[id^=pid][summary^=pid]", body="#postmessage_{pid}",
             author=".pls .authi a.xw1, .plc .authi a.xi2", posted="#authorposton{pid}",
             subject="#thread_subject", noise=_NOISE, **_ROW),
    # A custom skin: any thread link inside the list, any element carrying a post id.
    Template(name="skin", thread_link="#threadlist a, #threadlisttableid a, #moderate a", post="[id^=pid]",
             body="#postmessage_{pid}", author=".authi a, .pls a", posted="#authorposton{pid}",
             subject="#thread_subject", noise=_NOISE),
)

LOGIN_REQUIRED = "需要登录：Cookie 缺失或已过期 (login required: set or refresh cookie_env)"
_PID = re.compile(r"^pid(\d+)$")
_THREAD_FILE = re.compile(r"(?<=/)thread-(?P<tid>\d+)-\d+-\d+\.html$")
_PAGE = re.compile(r"(?<=/thread-)(?P<tid>\d+)-(?P<page>\d+)(?=-\d+\.html$)|(?<=[?&])page=(?P<n>\d+)")
_FORUM_FILE = re.compile(r"(?<=/)forum-(?P<fid>\w+)-\d+\.html$")  # fid or the board's alias
# Said by login walls, never by the "您需要登录后才可以回帖" under every thread a guest reads.
_LOGIN_WORDS = re.compile(r"尚未登录|需要登录后才(?:可以|能)(?:访问|查看|浏览|进入|下载)|请先登录")
# Discuz writes the edit note into the message itself, in an <i class="pstatus"> on X2/X3, as plain
# text on older skins.
_NOTE_LINE = re.compile(r"^本帖最后由 .{1,60} 编辑$")
_EMPTY_BOARD = "尚无主题"


def thread_url(href: str, base: str) -> str | None:
    """Page 1 of the thread ``href`` links to, in the site's form: ``…/thread-T-1-1.html`` or
    ``…/forum.php?mod=viewthread&tid=T``; ``None`` for any other link."""
    try:
        parts = urlsplit(canonical_url(href, base))
    except ValueError:
        return None
    if parts.scheme not in ("http", "https"):
        return None
    if m := _THREAD_FILE.search(parts.path):
        path = f"{parts.path[:m.start()]}thread-{m['tid']}-1-1.html"
        return urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    query = parse_qs(parts.query)
    tid = query.get("tid", [""])[0]
    if query.get("mod") == ["viewthread"] and tid.isdigit():
        return urlunsplit((parts.scheme, parts.netloc, parts.path, f"mod=viewthread&tid={tid}", ""))
    return None


def _tid(url: str | None) -> str | None:
    """The thread id in a URL ``thread_url`` gave."""
    if url is None:
        return None
    parts = urlsplit(url)
    found = _THREAD_FILE.search(parts.path)
    return found["tid"] if found else parse_qs(parts.query).get("tid", [None])[0]


def page_of(url: str) -> int:
    """The page number of a thread page URL (``thread-T-P-1.html``, ``…&page=P``); 1 when unsaid."""
    found = _PAGE.search(urlsplit(url).path) or _PAGE.search(urlsplit(url).query)
    return int(found["page"] or found["n"]) if found else 1


def _with_page(url: str, page: int) -> str:
    """``url`` (a thread page) turned into page ``page`` of the same thread, spelt the same way."""
    parts = urlsplit(url)
    if _PAGE.search(parts.path):
        return urlunsplit(parts._replace(path=_PAGE.sub(lambda m: f"{m['tid']}-{page}", parts.path, count=1)))
    if _PAGE.search(parts.query):
        return urlunsplit(parts._replace(query=_PAGE.sub(f"page={page}", parts.query, count=1)))
    return urlunsplit(parts._replace(query=f"{parts.query}&page={page}" if parts.query else f"page={page}"))


def _base(tree: LexborHTMLParser, page_url: str) -> str:
    """What relative links resolve against: Discuz pages carry ``<base href>`` to the site root."""
    node = tree.css_first("base[href]")
    href = (node.attributes.get("href") or "").strip() if node is not None else ""
    try:
        return canonical_url(href, page_url) if href else page_url
    except ValueError:
        return page_url


def _explain_empty(tree: LexborHTMLParser, result: FetchResult, what: str) -> ParseError:
    """Why a page holds no threads/posts: a login wall, a forum message, the forum index, or a
    template this adapter does not know (which must show, not pass as a quiet empty patrol)."""
    message_node = tree.css_first("#messagetext")
    message = node_text(message_node) if message_node is not None else ""
    page = node_text(tree.body) if tree.body is not None else ""
    if ("mod=logging" in result.final_url or tree.css_first("#messagelogin") is not None
            or "登录" in message or _LOGIN_WORDS.search(page)):
        return ParseError(LOGIN_REQUIRED)
    if message:
        return ParseError(f"论坛提示 (forum says): {' '.join(message.split())[:200]}")
    if tree.css_first("body.pg_index, [id^=category_]") is not None:
        return ParseError("这是论坛首页，不是版块主题列表：url 应为 forum-N-1.html 或 "
                          "forum.php?mod=forumdisplay&fid=N (forum index, not a thread list)")
    return ParseError(f"页面中没有找到{what}，论坛模板可能已改版 (no {what} found: the markup changed)")


def _text(node: LexborNode) -> str:
    return " ".join(node.text().split())


def _first_text(nodes: Iterable[LexborNode]) -> str | None:
    return next((text for node in nodes if (text := _text(node))), None)


def _posts(tree: LexborHTMLParser) -> tuple[Template, list[tuple[str, LexborNode]]] | None:
    """The first template that finds posts on the page, and the posts as (pid, element)."""
    for template in TEMPLATES:
        posts = [(m.group(1), node) for node in tree.css(template.post)
                 if (m := _PID.match(node.attributes.get("id") or ""))]
        if posts:
            return template, posts
    return None


class DiscuzAdapter(Adapter):
    """Discuz! 论坛（X2/X3）：版块主题列表 → 帖子 → 每个楼层一条；会员版块用 cookie_env 登录 (forum posts)."""

    def start_urls(self, source: SourceSpec) -> list[str]:
        """Pages 1…``pages`` of the board, spelt like ``source.url``."""
        if not source.url:
            return []
        pages = range(1, (source.pages or 1) + 1)
        parts = urlsplit(source.url)
        if m := _FORUM_FILE.search(parts.path):
            stem = f"{parts.path[:m.start()]}forum-{m['fid']}"
            return [urlunsplit((parts.scheme, parts.netloc, f"{stem}-{p}.html", "", "")) for p in pages]
        if parse_qs(parts.query).get("mod") == ["forumdisplay"]:
            kept = "&".join(pair for pair in parts.query.split("&") if pair and not pair.startswith("page="))
            return [urlunsplit((parts.scheme, parts.netloc, parts.path, f"{kept}&page={p}", "")) for p in pages]
        if len(pages) > 1:
            raise ParseError("discuz 的 url 应为 forum-N-1.html 或 forum.php?mod=forumdisplay&fid=N，"
                             "否则无法翻页 (cannot page through this url)")
        return [source.url]

    def parse_list(self, result: FetchResult, source: SourceSpec) -> Listing:
        """Thread links, page 1 of each, sticky threads included, each once, in page order, with
        the reply count of each row as the version that tells an updated thread."""
        tree = LexborHTMLParser(result.text)
        base = _base(tree, result.final_url)
        host = urlsplit(base).netloc
        for template in TEMPLATES:
            links: list[str] = []
            for anchor in tree.css(template.thread_link):
                url = thread_url(anchor.attributes.get("href") or "", base)
                if url and urlsplit(url).netloc == host and url not in links:
                    links.append(url)
            if links:
                versions: dict[str, str | None] = dict.fromkeys(links)
                for row in tree.css(template.row) if template.row else []:
                    anchor, count = row.css_first(template.row_link), row.css_first(template.replies)
                    url = thread_url(anchor.attributes.get("href") or "", base) if anchor is not None else None
                    if url in versions and count is not None and _text(count).isdigit():
                        versions[url] = _text(count)
                return Listing(links=links, versions=versions)
        board = tree.css_first("#threadlist")
        if board is not None and _EMPTY_BOARD in board.text():  # a new board: nothing posted yet
            return Listing()
        raise _explain_empty(tree, result, "主题")

    def parse_detail(self, result: FetchResult, source: SourceSpec) -> list[Item]:
        return self.read_detail(result, source).items

    def read_detail(self, result: FetchResult, source: SourceSpec) -> Detail:
        """One item per post on the page whose message could be read (image-only posts are
        skipped), and the thread's later pages, up to the last one its pager links to."""
        tree = LexborHTMLParser(result.text)
        found = _posts(tree)
        if found is None:
            raise _explain_empty(tree, result, "帖子")
        template, posts = found
        thread = self._thread(tree, result)
        page = page_of(result.final_url)
        subject = _first_text(tree.css(template.subject))
        if not subject:
            title = tree.css_first("title")
            subject = _text(title).split(" - ")[0] if title is not None else ""
        items: list[Item] = []
        found_body = False
        for pid, post in posts:
            body = tree.css_first(template.body.format(pid=pid))
            if body is None:  # a banned or hidden post shows a notice instead of its message
                continue
            found_body = True
            text = self._message(body, template)
            if not text:
                continue
            items.append(Item(
                url=f"{thread}#pid{pid}", source_id=source.id, title=subject, text=text,
                fetched_at=result.fetched_at, author=_first_text(post.css(template.author)),
                published_at=self._posted(tree, template, pid, result), parent_url=thread,
                title_inherited=bool(items) or page > 1))  # page 1 of a thread opens with the first post
        if not found_body:
            raise ParseError(f"找到 {len(posts)} 个楼层但没有正文，论坛模板可能已改版 "
                             "(posts without message bodies: the markup changed)")
        return Detail(items, self._later_pages(tree, template, result.final_url, thread, page), page=page)

    @staticmethod
    def _later_pages(tree: LexborHTMLParser, template: Template, page_url: str, thread: str, page: int) -> list[str]:
        """Pages ``page``+1 … the last page the pager links to, spelt like the page fetched."""
        base = _base(tree, page_url)
        last = page
        for anchor in tree.css(template.pager) if template.pager else []:
            href = anchor.attributes.get("href") or ""
            if _tid(thread_url(href, base)) == _tid(thread):  # the pager may spell it the other way
                last = max(last, page_of(canonical_url(href, base)))
        return [_with_page(page_url, n) for n in range(page + 1, last + 1)]

    @staticmethod
    def _thread(tree: LexborHTMLParser, result: FetchResult) -> str:
        """The thread's page-1 URL: from the URL fetched, else the page's canonical link."""
        found = thread_url(result.final_url, result.final_url)
        if found is None:
            link = tree.css_first("link[rel=canonical][href]")
            found = thread_url(link.attributes.get("href") or "", result.final_url) if link is not None else None
        return found or canonical_url(result.final_url)

    @staticmethod
    def _message(body: LexborNode, template: Template) -> str:
        """The message's text without its noise (skipped while reading: no subtree walks, so a
        hostile post nested thousands deep stays linear)."""
        noise = {node.mem_id for node in body.css(template.noise)}
        lines = (line for line in node_text(body, noise).split("\n") if not _NOTE_LINE.match(line))
        return "\n".join(lines)

    @staticmethod
    def _posted(tree: LexborHTMLParser, template: Template, pid: str, result: FetchResult) -> datetime | None:
        """``发表于 2015-3-5 14:02`` or ``发表于 3 天前``; the exact time in a ``title`` wins."""
        node = tree.css_first(template.posted.format(pid=pid))
        if node is None:
            return None
        exact = node.css_first("span[title]")
        candidates = ([exact.attributes.get("title") or ""] if exact is not None else []) + [node.text()]
        return next((t for text in candidates if (t := parse_cn_datetime(text, result.fetched_at))), None)
