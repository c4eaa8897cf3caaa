"""Generic HTML pages: article links out of a list page, and one article out of a detail page.

Pure functions over a ``FetchResult``. Selectors from ``sources.yaml`` win; without them the
extractor guesses (meta tags, ``<h1>``, the densest block of paragraphs), because most news and
government sites share that shape and an operator should not need CSS to add one.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from crawler.adapters.errors import ParseError
from crawler.canonical import canonical_url
from crawler.types import FetchResult, Item

# Chinese sites print local time without an offset; mainland China has one zone, no DST.
SITE_TZ = ZoneInfo("Asia/Shanghai")

_BLOCK_TAGS = frozenset(
    "address article aside blockquote br caption center dd div dl dt fieldset figcaption figure "
    "footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tbody td tfoot th "
    "thead tr ul".split()
)
_SKIP_TAGS = frozenset("-comment script style noscript template head title select option textarea".split())
# Page furniture, removed before looking for the article body (after reading title and byline):
# the HTML5 elements, and the class/id names Chinese portals and CMS templates use for the same.
_FURNITURE = (
    "script, style, nav, header, footer, aside, noscript, iframe, template, svg, button, select, textarea, "
    + ", ".join(f"[class~={name}], [id={name}]" for name in ("footer", "foot", "copyright", "breadcrumb", "sidebar",
                                                              "nav", "menu", "comment", "comments"))
)
_NO_CREDIT_TAGS = frozenset("a h1 h2 h3 h4 h5 h6 li dt dd option button label".split())
_TITLE_SPLIT = re.compile(r"\s+[-–—]+\s+|_+|[|｜]|--+|——|(?<![0-9A-Za-z])-|-(?![0-9A-Za-z])")
_SPACE = re.compile(r"\s+")
_TIME = re.compile(
    r"(?<!\d)(?P<y>(?:19|20)\d\d)\s*[-/.年]\s*(?P<mo>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})(?!\d)\s*日?"
    r"(?:\s*T?\s*(?P<h>\d{1,2})\s*[:：时]\s*(?P<mi>\d{1,2})(?:\s*[:：分]\s*(?P<s>\d{1,2}))?"
    r"(?:\.\d+)?\s*(?P<tz>Z|[+-]\d\d:?\d\d)?)?"
)
_AUTHOR = tuple(
    re.compile(label + r"[ \t\u3000]*[：:][ \t\u3000]*(?P<v>[^\s：:|｜,，。;；()（）\[\]【】]{1,30})")
    for label in ("作者", "来源")
)
_TIME_META = ("article:published_time", "og:release_date", "pubdate", "publishdate", "publish_date",
              "datepublished", "dc.date.issued")
_AUTHOR_META = ("author", "article:author")
_BYLINE_CHARS = 300  # how far from the headline / article start a byline is looked for
# Text is measured in "units": a CJK character is one, and so is a whole Latin word or number, so
# that an English copyright notice or a row of phone numbers does not outweigh a Chinese paragraph
# of the same information.
_WORD = re.compile(r"[A-Za-z0-9_]+(?:[.,'’&@/:-][A-Za-z0-9_]+)*")
_DIGITS = re.compile(r"\d+")
# A copyright or licence line: page furniture, whatever its length in characters.
_BOILERPLATE = re.compile(r"©|版权所有|Copyright|All Rights Reserved|ICP[备证]|公网安备", re.IGNORECASE)
_BOILERPLATE_UNITS = 200  # a longer run with such words in it is an article that mentions them
# Repeated records (forum posts, a thread's replies): at most this many are compared with the best
# block, and each record's shape is read from at most this many elements.
_MAX_RECORDS = 300
_SHAPE_NODES = 400
_SHAPE_SIMILARITY = 0.5  # share of the furniture beside the text two records must have in common


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _units(text: str) -> int:
    """The information in ``text``: one per CJK character or punctuation mark, one per Latin word
    or number, nothing for white space."""
    return len(_SPACE.sub("", _WORD.sub("w", text)))


def node_text(node: LexborNode, skip: Collection[int] = ()) -> str:
    """Visible text of ``node``, one line per block element (``<p>``, ``<div>``, ``<br>`` …),
    leaving out the elements whose ``mem_id`` is in ``skip``.

    Inline markup (``<a>``, ``<span>``) stays on its line, unlike ``text(separator="\\n")``,
    so a sentence with a link is still one sentence for the keyword matcher. Iterative, so
    deeply nested hostile markup cannot exhaust the stack.
    """
    parts: list[str] = []
    stack: list[LexborNode | None] = [node]  # None marks the end of a block element
    while stack:
        current = stack.pop()
        if current is None:
            parts.append("\n")
            continue
        tag = current.tag or ""
        if tag == "-text":
            parts.append(_SPACE.sub(" ", current.text_content or ""))
            continue
        if tag in _SKIP_TAGS or current.mem_id in skip:
            continue
        if tag in _BLOCK_TAGS:
            parts.append("\n")
            stack.append(None)
        stack.extend(reversed(list(current.iter(include_text=True))))
    lines = (line.strip() for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment (a feed summary, say), paragraphs on their own lines."""
    tree = LexborHTMLParser(markup)
    return node_text(tree.body) if tree.body is not None else ""


def _select(tree: LexborHTMLParser, selector: str, what: str) -> list[LexborNode]:
    try:
        return tree.css(selector)
    except SelectolaxError:
        raise ParseError(f"{what} 不是有效的 CSS 选择器 (invalid CSS selector): {selector!r}") from None


def _base_url(tree: LexborHTMLParser, page_url: str) -> str:
    """The page URL, or its ``<base href>`` (which relative links resolve against) if there is one."""
    base = tree.css_first("base[href]")
    href = (base.attributes.get("href") or "").strip() if base is not None else ""
    try:
        return canonical_url(href, page_url) if href else page_url
    except ValueError:
        return page_url


def extract_links(result: FetchResult, link_selector: str) -> list[str]:
    """Canonical http(s) URLs of the ``<a href>`` elements ``link_selector`` picks (or that sit inside
    what it picks), in page order, without repeats and without the page itself.

    Raises ``ParseError`` only for an invalid selector; odd hrefs are skipped.
    """
    tree = LexborHTMLParser(result.text)
    base = _base_url(tree, result.final_url)
    try:
        own = canonical_url(result.final_url)
    except ValueError:
        own = result.final_url
    links: list[str] = []
    seen = {own}
    for node in _select(tree, link_selector, "link_selector"):
        anchors = [node] if node.tag == "a" else node.css("a[href]")
        for anchor in anchors:
            href = (anchor.attributes.get("href") or "").strip()
            try:
                url = canonical_url(href, base) if href else ""
            except ValueError:
                continue
            if url.startswith(("http://", "https://")) and url not in seen:
                seen.add(url)
                links.append(url)
    return links


def _meta(tree: LexborHTMLParser) -> dict[str, str]:
    """``<meta>`` contents keyed by lower-cased name / property / itemprop; the first one wins."""
    found: dict[str, str] = {}
    for meta in tree.css("meta[content]"):
        attrs = meta.attributes
        content = _norm(attrs.get("content") or "")
        for key in ("name", "property", "itemprop"):
            name = (attrs.get(key) or "").strip().lower()
            if name and content:
                found.setdefault(name, content)
    return found


def _longest_segment(title: str) -> str:
    """``"标题_新浪新闻"`` / ``"标题 - 网易"`` / ``"标题|澎湃"`` → ``"标题"``: the site name is the short part."""
    return max((_norm(s) for s in _TITLE_SPLIT.split(title)), key=len, default="")


def _linked_only(node: LexborNode) -> bool:
    """True for a logo-style ``<h1><a href="/">网站名</a></h1>``: all of its text is a link."""
    return _norm(node.text()) == "".join(_norm(a.text()) for a in node.css("a"))


def _best_h1(tree: LexborHTMLParser, hints: tuple[str, ...]) -> LexborNode | None:
    """The headline ``<h1>``: the longest whose text the ``<title>``/og:title repeats, else the
    longest that is not just a link (sites put their logo in an ``<h1>`` too)."""
    h1s = [(h, t) for h in tree.css("h1") if (t := _norm(h.text()))]
    echoed = [(h, t) for h, t in h1s if any(t in hint for hint in hints)]
    candidates = echoed or [(h, t) for h, t in h1s if not _linked_only(h)]
    best = max(candidates, key=lambda pair: len(pair[1]), default=None)
    return best[0] if best else None


def _title(tree: LexborHTMLParser, meta: dict[str, str], selector: str | None) -> tuple[str, LexborNode | None]:
    """The headline and the node it came from (its surroundings hold the byline and date)."""
    if selector:
        for node in _select(tree, selector, "title_selector"):
            if text := _norm(node.text()):
                return text, node
    page_title_node = tree.css_first("title")
    page_title = _norm(page_title_node.text()) if page_title_node is not None else ""
    og = meta.get("og:title", "")
    h1 = _best_h1(tree, (og, page_title))
    h1_text = _norm(h1.text()) if h1 is not None else ""
    if og:
        # og:title may carry <title>'s suffixes, or be cut short by a stray quote in the markup:
        # an <h1> equal to its core, or extending it, is the cleaner headline.
        return (h1_text if h1_text and (h1_text == _longest_segment(og) or og in h1_text) else og), h1
    if h1_text:
        return h1_text, h1
    return _longest_segment(page_title), None


def _first_time(text: str, default_tz: tzinfo) -> tuple[datetime, bool] | None:
    """The first valid date in ``text`` (UTC) and whether it carried a time of day."""
    for m in _TIME.finditer(text):
        tz = default_tz
        if m["tz"] == "Z":
            tz = timezone.utc
        elif m["tz"]:
            offset = m["tz"].replace(":", "")
            minutes = int(offset[1:3]) * 60 + int(offset[3:5])
            tz = timezone(timedelta(minutes=minutes if offset[0] == "+" else -minutes))
        try:
            local = datetime(int(m["y"]), int(m["mo"]), int(m["d"]), int(m["h"] or 0), int(m["mi"] or 0),
                             int(m["s"] or 0), tzinfo=tz)
        except ValueError:
            continue
        return local.astimezone(timezone.utc), m["h"] is not None
    return None


def parse_time(text: str, default_tz: tzinfo = SITE_TZ) -> datetime | None:
    """The first date (and time) in ``text`` as an aware UTC datetime; ``default_tz`` when no offset.

    Understands ISO 8601 and the Chinese spellings ``2024-03-05 14:02``, ``2024/3/5``,
    ``2024年03月05日 14:02``.
    """
    found = _first_time(text, default_tz)
    return found[0] if found else None


def _published(meta: dict[str, str], regions: list[str]) -> datetime | None:
    """Meta tags first, then the regions in order; a date without a time of day is refined by a
    later time on the same (local) day, e.g. ``publishdate=2024-05-09`` and ``2024-05-09 20:52`` in the byline."""
    found = next((t for key in _TIME_META if key in meta and (t := _first_time(meta[key], SITE_TZ))), None)
    for region in regions:
        if found is not None and found[1]:
            break
        candidate = _first_time(region, SITE_TZ)
        if candidate is None:
            continue
        if found is None:
            found = candidate
        elif candidate[1] and candidate[0].astimezone(SITE_TZ).date() == found[0].astimezone(SITE_TZ).date():
            found = candidate
    return found[0] if found else None


def _author(meta: dict[str, str], regions: list[str]) -> str | None:
    """Meta tags first (CMS placeholders like a bare user id are skipped), then ``作者：``, then ``来源：``."""
    for key in _AUTHOR_META:
        if (value := meta.get(key)) and not value.isdigit():
            return value
    return next((m["v"] for region in regions for pattern in _AUTHOR if (m := pattern.search(region))), None)


def _remove_furniture(tree: LexborHTMLParser) -> None:
    """Drop what is never the article. A ``<form>`` goes only when it holds no paragraphs: ASP.NET
    sites (many government ones) wrap the whole page in one."""
    for node in tree.css(_FURNITURE):
        node.decompose()
    for form in tree.css("form"):
        if not any(_norm(p.text()) for p in form.css("p")):
            form.decompose()


@dataclass
class _Stats:
    """Text lengths per element of a cleaned ``<body>``, from one pass over it: hostile pages nest
    elements thousands deep, so nothing here may walk a subtree per element. Keyed by ``mem_id``:
    selectolax nodes compare equal when their HTML is equal."""

    text: dict[int, int] = field(default_factory=dict)  # visible text inside, in ``_units``
    linked: dict[int, int] = field(default_factory=dict)  # of which inside <a>
    credit: dict[int, float] = field(default_factory=dict)  # paragraph text it holds
    nodes: dict[int, LexborNode] = field(default_factory=dict)
    # Where an element sits: a hash of the tag, id and classes of it and every ancestor (digits
    # dropped, so "post_53876" and "post_53885" are one place); repeated records share it.
    # Filled on demand by ``place``: most pages never need it beyond a few hundred elements.
    path: dict[int, int] = field(default_factory=dict)
    position: dict[int, int] = field(default_factory=dict)  # document order
    last: dict[int, int] = field(default_factory=dict)  # position of the last node inside

    @classmethod
    def of(cls, body: LexborNode) -> "_Stats":
        """Credit: each run of text credits its container, the parent of its ``<p>`` or the
        ``<div>``/``<td>`` it sits in directly (pages that separate paragraphs with ``<br>``), and
        half of it to the grandparent, so an article split over sibling sections wins as a whole.
        Text inside links, headings and list items earns nothing, and so does a copyright line."""
        stats = cls()
        order = list(body.traverse(include_text=True))
        # The nearest block element (or <body>) around each node; None when that is a no-credit one.
        block: dict[int, LexborNode | None] = {body.mem_id: body}
        stats.path[body.mem_id] = hash("body")
        stats.nodes[body.mem_id] = body
        for index, node in enumerate(order[1:], 1):  # document order: a parent comes before its children
            stats.nodes[node.mem_id] = node
            stats.position[node.mem_id] = index
            parent = node.parent
            outer = block.get(parent.mem_id) if parent is not None else None
            tag = node.tag or ""
            if tag != "-text":
                block[node.mem_id] = (None if tag in _NO_CREDIT_TAGS else node if tag in _BLOCK_TAGS else outer)
                continue
            raw = node.text_content or ""
            length = stats.text[node.mem_id] = _units(raw)
            if outer is None or not length or (length < _BOILERPLATE_UNITS and _BOILERPLATE.search(raw)):
                continue
            container = outer.parent if outer.tag == "p" and outer.parent is not None else outer
            stats._credit(container, length)
            if container.parent is not None:
                stats._credit(container.parent, length / 2)
        for node in reversed(order[1:]):  # children before their parent
            key, parent = node.mem_id, node.parent
            if node.tag == "a":
                stats.linked[key] = stats.text.get(key, 0)
            end = stats.last.setdefault(key, stats.position[key])
            if parent is not None:
                if end > stats.last.get(parent.mem_id, -1):
                    stats.last[parent.mem_id] = end
                stats.text[parent.mem_id] = stats.text.get(parent.mem_id, 0) + stats.text.get(key, 0)
                stats.linked[parent.mem_id] = stats.linked.get(parent.mem_id, 0) + stats.linked.get(key, 0)
        return stats

    def _credit(self, node: LexborNode, amount: float) -> None:
        self.nodes.setdefault(node.mem_id, node)
        self.credit[node.mem_id] = self.credit.get(node.mem_id, 0.0) + amount

    def place(self, node: LexborNode) -> int:
        """``path`` of an element, computed once per element (iteratively: pages nest deep)."""
        climb = []
        while node.mem_id not in self.path:
            climb.append(node)
            if node.parent is None:
                self.path[node.mem_id] = 0
                break
            node = node.parent
        known = self.path[node.mem_id]
        for element in reversed(climb):
            known = self.path[element.mem_id] = hash((known, _place(element)))
        return known

    def link_density(self, key: int) -> float:
        """Share of the text that is link text (0 for an element without text, e.g. ``<br>``)."""
        total = self.text.get(key, 0)
        return min(self.linked.get(key, 0) / total, 1.0) if total else 0.0


def _place(node: LexborNode) -> str:
    """Tag, id and classes of an element, digits dropped: what repeated records have in common."""
    attrs = node.attributes
    classes = " ".join(sorted(_DIGITS.sub("", c) for c in (attrs.get("class") or "").split()))
    return f"{node.tag}#{_DIGITS.sub('', attrs.get('id') or '')}.{classes}"


def _records(stats: _Stats, best: int) -> list[int]:
    """Blocks that repeat the best block in records of the same make: the other posts of a forum
    thread, each a ``<table>`` or ``<div>`` with the same author panel and its message in the same
    spot.

    A block qualifies when it sits at the same place as the best one (same tags, ids and classes on
    the way from ``<body>``), and the records holding the two (the children of their nearest common
    ancestor) repeat the same furniture around the text: at least two places, and half of all, of
    the elements beside the block and its ancestors (author name, time, floor number, buttons).
    A page's header, article and footer tables sit at the same place on many old sites, but hold
    nothing else alike, so they never merge. Mostly-link blocks and copyright lines never qualify."""
    best_node = stats.nodes[best]
    target, tag = stats.place(best_node), best_node.tag
    same = []
    for key in stats.credit:
        node = stats.nodes[key]
        if key != best and node.tag == tag and stats.link_density(key) <= 0.5 and stats.place(node) == target:
            same.append(key)
            if len(same) > _MAX_RECORDS:
                return []
    if not same:
        return []

    def beside(record: LexborNode, block: int) -> set[int]:
        """Places of the record's elements that neither hold the block nor sit inside it."""
        first, end = stats.position.get(block, 0), stats.last.get(block, 0)
        found: set[int] = set()
        for count, node in enumerate(record.traverse()):
            if count >= _SHAPE_NODES:
                break
            key = node.mem_id
            position = stats.position.get(key, 0)
            if stats.last.get(key, position) < first or position > end:
                found.add(stats.place(node))
        return found

    records = []
    best_beside: dict[int, set[int]] = {}  # by the best block's record: one per common parent
    for key in same:
        mine, theirs = stats.nodes[best], stats.nodes[key]
        for _ in range(len(stats.nodes)):  # same place, same depth: climb in step to the common parent
            if mine.parent is None or theirs.parent is None or mine.parent.mem_id == theirs.parent.mem_id:
                break
            mine, theirs = mine.parent, theirs.parent
        if mine.mem_id not in best_beside:
            best_beside[mine.mem_id] = beside(mine, best)
        a, b = best_beside[mine.mem_id], beside(theirs, key)
        common = len(a & b)
        if common >= 2 and common >= _SHAPE_SIMILARITY * len(a | b) \
                and not _BOILERPLATE.search(node_text(stats.nodes[key])):
            records.append(key)
    return records


def _main_text(body: LexborNode) -> str:
    """The text of the element holding the most paragraph text, discounted by its share of link
    text, with the blocks that repeat it in records of the same shape (``_records``: a thread's
    replies); inner blocks that are mostly links ("延伸阅读", "相关新闻") are left out, as another
    story's headline in them would make a keyword hit on the wrong article."""
    stats = _Stats.of(body)
    top = sorted(stats.credit.items(), key=lambda pair: pair[1], reverse=True)[:10]
    scored = [(score * (1 - stats.link_density(key)), key) for key, score in top]
    best = max(scored, key=lambda pair: pair[0], default=(0.0, None))[1]
    if best is None:
        return ""
    chosen = sorted([best, *_records(stats, best)], key=lambda key: stats.position.get(key, 0))
    texts = []
    for key in chosen:
        link_lists = {n.mem_id for n in stats.nodes[key].traverse()
                      if n.tag in _BLOCK_TAGS and n.mem_id != key and stats.link_density(n.mem_id) > 0.5}
        if text := node_text(stats.nodes[key], link_lists):
            texts.append(text)
    return "\n".join(texts)


def _near_headline(title: str, title_node: LexborNode | None) -> list[str]:
    """The text after the headline inside its parent and grandparent, where bylines are printed."""
    regions: list[str] = []
    node = title_node.parent if title_node is not None else None
    for _ in range(2):
        if node is None:
            break
        around = node_text(node)
        start = max(around.find(title), 0)
        regions.append(around[start:start + _BYLINE_CHARS])
        node = node.parent
    return regions


def _near_article(page: str, text: str) -> list[str]:
    """The page text just before the article, and the article's first lines. Never the whole page:
    sidebars and the article itself are full of other dates and names."""
    lines = text.split("\n", 2)
    # Two lines, because an article often starts by repeating the headline, which the page
    # also shows above the byline.
    before = page.find("\n".join(lines[:2])) if text else -1
    if before < 0 and text:
        before = page.find(lines[0])
    regions = [page[max(0, before - _BYLINE_CHARS):before]] if before > 0 else []
    return [*regions, text[:_BYLINE_CHARS]]


def extract_article(result: FetchResult, source_id: str, *, title_selector: str | None = None,
                    text_selector: str | None = None) -> Item:
    """One article page as an ``Item``; selectors win over the automatic guesses.

    Never raises on odd HTML: what cannot be found stays empty (the caller decides whether an
    empty text is an error). An invalid selector raises ``ParseError``.
    """
    tree = LexborHTMLParser(result.text)
    meta = _meta(tree)
    title, title_node = _title(tree, meta, title_selector)
    # The byline often sits in a <header>: read the headline's surroundings before furniture goes.
    page = node_text(tree.body) if tree.body is not None else ""
    regions = _near_headline(title, title_node)
    _remove_furniture(tree)
    if text_selector:
        text = "\n".join(t for node in _select(tree, text_selector, "text_selector") if (t := node_text(node)))
    else:
        text = _main_text(tree.body) if tree.body is not None else ""
    regions += _near_article(page, text)
    try:
        url = canonical_url(result.final_url)
    except ValueError:
        url = result.final_url
    return Item(url=url, source_id=source_id, title=title, text=text, fetched_at=result.fetched_at,
                author=_author(meta, regions), published_at=_published(meta, regions))
