"""Baidu Tieba: forum lists → thread links, thread pages → floors and 楼中楼 replies, on every
generation of markup in the shared collection.

Real pages (tests/data/tieba/, copied from ../shared/fixtures/tieba/): desktop lists of 2020
(browser-rendered) and 2024 (raw, Bigpipe pagelets in comments), mobile lists of 2018–2020, a 2024
search fragment, desktop threads of 2014, 2017 and 2024 (rendered, with 楼中楼), the 2017 thread's
楼中楼 JSON and the 2024 楼中楼 HTML answer. ``hjhee_tool_output_2017.html`` is another crawler's
rendering of the 2017 thread and its JSON: an independent check of floors, authors and replies.
``verify_wall.html`` is hand-written after Baidu's verification page. Expectations were read off
the pages (thread ids, titles, authors, reply counts, floor numbers, times).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from loopback import Site
from selectolax.lexbor import LexborHTMLParser

from crawler.adapters import ParseError
from crawler.adapters.html import node_text
from crawler.adapters.tieba import VERIFICATION_WALL, Thread, TiebaAdapter, list_threads, parse_lzl_json, thread_url
from crawler.config.keywords import Keywords
from crawler.config.sources import SourceSpec
from crawler.fetch import Fetcher
from crawler.match import Ruleset
from crawler.pipeline import RunContext, crawl_source
from crawler.types import FetchPolicy, Item
from storage import db, queries

if TYPE_CHECKING:
    from conftest import MakeResult

DATA = Path(__file__).resolve().parents[2] / "data"
TB = "https://tieba.baidu.com"
LIST_URL = f"{TB}/f?kw=x&ie=utf-8&pn=0"
T2014, T2017, T2024 = f"{TB}/p/3138733512", f"{TB}/p/3922635509", f"{TB}/p/9117905169"
ADAPTER = TiebaAdapter()


def source(**extra: object) -> SourceSpec:
    return SourceSpec(id="tieba-hualong", type="tieba", forum="化隆", **extra)  # type: ignore[arg-type]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)


def floors(items: list[Item]) -> dict[int, Item]:
    return {int(i.url.rpartition("#floor-")[2]): i for i in items if "#floor-" in i.url}


def replies(items: list[Item]) -> list[Item]:
    return [i for i in items if "&cid=" in i.url]


# --- start pages -----------------------------------------------------------------------------

@pytest.mark.parametrize(("extra", "expected"), [
    ({}, [f"{TB}/f?kw=%E5%8C%96%E9%9A%86&ie=utf-8&pn=0"]),
    ({"pages": 3}, [f"{TB}/f?kw=%E5%8C%96%E9%9A%86&ie=utf-8&pn={pn}" for pn in (0, 50, 100)]),
    ({"url": "http://127.0.0.1:8080/f", "pages": 2},
     [f"http://127.0.0.1:8080/f?kw=%E5%8C%96%E9%9A%86&ie=utf-8&pn={pn}" for pn in (0, 50)]),
    ({"url": "http://127.0.0.1:8080/f?tab=good"},
     ["http://127.0.0.1:8080/f?tab=good&kw=%E5%8C%96%E9%9A%86&ie=utf-8&pn=0"]),
])
def test_start_urls_are_the_forum_list_pages(extra: dict[str, object], expected: list[str]) -> None:
    assert ADAPTER.start_urls(source(**extra)) == expected


def test_a_source_without_forum_is_refused() -> None:
    with pytest.raises(ParseError, match="forum"):
        ADAPTER.start_urls(SourceSpec.model_construct(id="t", type="tieba", forum=None))


@pytest.mark.parametrize(("url", "expected"), [
    (f"{TB}/p/3922635509", T2017),
    (f"{TB}/p/3922635509?pn=2&see_lz=1#7", T2017),
    ("HTTP://Tieba.Baidu.com:80/p/3922635509/", "http://tieba.baidu.com/p/3922635509"),
    (f"{TB}/p/comment?tid=9117888152&pid=150718967291&pn=1", f"{TB}/p/9117888152"),
    ("http://127.0.0.1:8080/p/1", "http://127.0.0.1:8080/p/1"),
    (f"{TB}/f?kw=x", None),
    (f"{TB}/p/abc", None),
])
def test_thread_url(url: str, expected: str | None) -> None:
    assert thread_url(url) == expected


# --- forum lists -------------------------------------------------------------------------------

def test_raw_2024_desktop_list_is_read_out_of_its_pagelet_comments(make_result: MakeResult) -> None:
    result = make_result(Path("tieba/mediacrawler_list_raw_2024_daomubiji.html"), LIST_URL)
    assert '<code class="pagelet_html" id="pagelet_html_frs-list/pagelet/thread_list" style="display:none;"><!--' \
        in result.text  # every thread row is inside an HTML comment
    threads = list_threads(result)
    assert len(threads) == len({t.url for t in threads}) == 48
    assert threads[:3] == [
        Thread(f"{TB}/p/9079949995", "盗墓笔记全集+txt小说，已整理", "公子伯仲", 18),
        Thread(f"{TB}/p/6710984997", "有人知道张海琪后来怎么样了吗南部档案最后写到张海琪中了神经毒",
               "张海楼 (海楼ot)", 36),
        Thread(f"{TB}/p/9017590509", "盗墓笔记吧，如何成为盟主", "封尊已踏天 (金苹果336633)", 82),
    ]
    assert threads[-1] == Thread(f"{TB}/p/1138972019", "用我的一生为“盗墓笔记”盖一栋“一亿层的神楼”。",
                                 "尸香魔欲花", 5164241)
    by_url = {t.url: t for t in threads}
    assert by_url[f"{TB}/p/9119823576"].author == "繁花拥椰"  # no account name on the page
    assert sum(t.replies or 0 for t in threads) == 5_530_588


def test_rendered_2020_desktop_list_keeps_sticky_threads_first(make_result: MakeResult) -> None:
    threads = list_threads(make_result(Path("tieba/gne_list_rendered_2020.html"), LIST_URL))
    assert len(threads) == 50
    assert threads[:2] == [
        Thread(f"{TB}/p/6401593389", "【招聘】贴吧热议吧吧务邀请你的加入！！", "烟给我烟", 143),
        Thread(f"{TB}/p/6787608290", "【官方活动】晒新版贴吧截图，盖楼赢好礼", "贴吧官方", 2498),
    ]
    by_url = {t.url: t for t in threads}
    # the list cuts long names to "这个头像..."; the account name is the whole of it
    assert by_url[f"{TB}/p/6855574054"].author == "这个头像够霸气"
    assert threads[-1] == Thread(f"{TB}/p/6837930225", "四川女大学生在青海失联17日，最后一次出现在青藏线南山口",
                                 "笑录百科 (lq98123)", 41)


def test_mobile_2018_list_skips_ads_and_icons(make_result: MakeResult) -> None:
    threads = list_threads(make_result(Path("tieba/duenaive_mobile_list_2018_a.html"), LIST_URL))
    assert len(threads) == 50  # 53 rows: a gap and two ads are not threads
    assert threads[:3] == [
        Thread(f"{TB}/p/5916005664", "【兼职、二手、租房】2018-2019学年上学期校历第7周专用贴", None, None),  # 置顶
        Thread(f"{TB}/p/5888926467", "【吧务公告】新任小吧上任公示", None, None),
        Thread(f"{TB}/p/5918293462", "平院的小可爱们来玩个游戏嗨一下", "野原小新君", 0),
    ]
    by_url = {t.url: t for t in threads}
    assert by_url[f"{TB}/p/5907264693"] == Thread(  # the 精 badge is not part of the title
        f"{TB}/p/5907264693", "【兼职、二手、租房】2018-2019学年上学期校历第6周专用贴", "平院吧务管理", 99)
    assert threads[-1] == Thread(
        f"{TB}/p/5916076529", "有没有零基础的小伙伴进吉他社 约一下阿 还有学长学姐们 这个难学难学难学吗", "Leeing", 7)


def test_mobile_list_fragment(make_result: MakeResult) -> None:
    threads = list_threads(make_result(Path("tieba/cedar_mobile_list_fragment_linux.html"), LIST_URL))
    assert len(threads) == 30
    assert threads[2] == Thread(f"{TB}/p/6465015907", "请问一下", "Pumpkin_233", 20)
    assert threads[-1] == Thread(
        f"{TB}/p/6466481780", "为什么CHMOD没有效果？ 而且开机就显示GRUB>，确认有grub.cfg而且内容正确。", "Sisung", 4)


def test_search_fragment_links_each_result_to_its_thread(make_result: MakeResult) -> None:
    threads = list_threads(make_result(Path("tieba/mediacrawler_search_fragment_2024.html"), LIST_URL))
    assert [t.url.rpartition("/")[2] for t in threads] == [
        "9117888152", "9114743782", "9095684158", "9093564752", "9088419293", "9088416365", "9087419039",
        "9085102046", "9083888071", "9071937582"]
    assert threads[0] == Thread(f"{TB}/p/9117888152", "武汉交互空间科技：富士康10亿加码中国大陆，印度为何逐渐“失宠",
                                "VR虚拟达人", None)


def test_list_links_stay_on_the_host_the_list_came_from(make_result: MakeResult) -> None:
    loopback = "http://127.0.0.1:8080/f?kw=x&ie=utf-8&pn=0"
    listing = ADAPTER.parse_list(make_result(Path("tieba/duenaive_mobile_list_2018_a.html"), loopback), source())
    assert listing.items == []
    assert listing.links[2] == "http://127.0.0.1:8080/p/5918293462"
    assert all(link.startswith("http://127.0.0.1:8080/p/") for link in listing.links) and len(listing.links) == 50


# --- thread pages ------------------------------------------------------------------------------

def test_2014_thread_floors(make_result: MakeResult) -> None:
    items = ADAPTER.parse_detail(make_result(Path("tieba/feelwing_thread_raw_2014_nba.html"), T2014), source())
    by_floor = floors(items)
    assert list(by_floor) == [1, 11, 12, 14, 18, 20, 21, 23, 27, 29, 32, 37, 40, 41, 42, 45, 47, 48, 49, 50, 53,
                              54, 55, 58, 59, 60, 61, 62, 63, 65]
    assert len(items) == 30 and replies(items) == []
    first = by_floor[1]
    assert first.url == f"{T2014}?pid=53018668923#floor-1"
    assert first.title == "纯原创我心中的NBA2014-2015赛季现役50大" and not first.title_inherited
    assert first.text.endswith(
        "欢迎理性讨论！\n状元维金斯镇楼\nP.S 1 我每天都至少更新一个，不TJ。\n2 今年的新秀我就不考虑了，没上赛季参照")
    assert first.published_at == utc(2014, 7, 1, 8, 22)  # 2014-07-01 16:22 in Beijing
    assert by_floor[65].published_at == utc(2014, 7, 2, 9, 57) and by_floor[65].text == "下班走了，最后顶一顶"
    assert {i.author for i in items} == {"明之翼"}
    assert all(i.parent_url == T2014 and i.source_id == "tieba-hualong" for i in items)
    assert [i.title_inherited for i in items].count(False) == 1


def tool_output() -> tuple[list[tuple[int, str]], Counter[tuple[str, str, str]]]:
    """Floors (number, author) and replies (pid, author, text) as hjhee's crawler rendered them."""
    tree = LexborHTMLParser((DATA / "tieba/hjhee_tool_output_2017.html").read_text(encoding="utf-8"))
    heads = [node_text(n) for n in tree.css("body > div > div > div:first-child") if node_text(n).startswith("#")]
    shown = [(int(head[1:].split(":")[0]), head.split(": ", 1)[1]) for head in heads]
    found: Counter[tuple[str, str, str]] = Counter()
    for box in tree.css("div.lzl"):
        for line in (child for child in box.iter() if child.tag == "div"):
            bold = line.css_first("b")
            author = node_text(bold) if bold is not None else ""
            text = " ".join(node_text(line).removeprefix(f"{author}:").split())
            if text:
                found[(box.attributes["id"].removeprefix("lzl"), author, text)] += 1  # type: ignore[union-attr]
    return shown, found


def test_2017_thread_floors_agree_with_another_crawler(make_result: MakeResult) -> None:
    items = ADAPTER.parse_detail(make_result(Path("tieba/hjhee_thread_raw_2017_p3922635509.html"), T2017), source())
    shown, _ = tool_output()
    assert [(n, i.author) for n, i in floors(items).items()] == shown
    assert len(items) == 30 and replies(items) == []  # this generation loads 楼中楼 separately, as JSON
    first = items[0]
    assert (first.url, first.title, first.text) == (
        f"{T2017}?pid=72290182661#floor-1", "我与妹妹的日常", "先镇楼免得又删帖")
    assert first.published_at == utc(2015, 7, 26, 11, 44)
    assert floors(items)[2].text == "召唤术！@愺瑁001 @我为九命狂"


def test_2017_lzl_json_agrees_with_another_crawler() -> None:
    fetched = utc(2024, 5, 13, 8)
    data = (DATA / "tieba/hjhee_thread_raw_2017_lzl.json").read_bytes()
    items = parse_lzl_json(data, T2017, "tieba-hualong", fetched, title="我与妹妹的日常")
    _, shown = tool_output()
    assert len(items) == 109  # 113 replies, 4 of them smileys only
    assert Counter((i.url.split("pid=")[1].split("&")[0], i.author, " ".join(i.text.split())) for i in items) == shown
    assert items[0] == Item(
        url=f"{T2017}?pid=72290268039&cid=72332549920", source_id="tieba-hualong", title="我与妹妹的日常",
        text="最靠近楼主的地方", fetched_at=fetched, author="款鷄涌", published_at=utc(2015, 7, 27, 4, 39, 59),
        parent_url=T2017, title_inherited=True)
    by_id = {i.url.rpartition("cid=")[2]: i for i in items}
    assert by_id["72290613097"].text == "回复 刀剑大法好 :没事没事"  # Tieba's stray </a> is gone
    assert parse_lzl_json(data.decode(), T2017, "t", fetched) == [replace(i, source_id="t", title="") for i in items]


@pytest.mark.parametrize(("body", "message"), [
    ('{"errno": 0, "errmsg": "success", "data": {"comment_list": []}}', None),
    ('{"errno": 4, "errmsg": "need login", "data": []}', "楼中楼接口报错.*4 need login"),
    ("[1, 2]", "楼中楼接口报错"),
    ("<html><body>502 Bad Gateway</body></html>", "not JSON"),
])
def test_lzl_json_answers_that_are_not_replies(body: str, message: str | None) -> None:
    if message is None:
        assert parse_lzl_json(body, T2017, "t", utc(2024, 1, 1)) == []
    else:
        with pytest.raises(ParseError, match=message):
            parse_lzl_json(body, T2017, "t", utc(2024, 1, 1))


def test_lzl_json_that_is_the_verification_wall() -> None:
    with pytest.raises(ParseError) as caught:
        parse_lzl_json((DATA / "tieba/verify_wall.html").read_bytes(), T2017, "t", utc(2024, 1, 1))
    assert caught.value.reason == VERIFICATION_WALL


def test_rendered_2024_thread_floors_and_their_replies(make_result: MakeResult) -> None:
    items = ADAPTER.parse_detail(
        make_result(Path("tieba/mediacrawler_thread_rendered_2024_p_detail.html"), f"{T2024}?"), source())
    by_floor = floors(items)
    # floor 40 is a picture only; the third element of the list is an ad, not a floor
    assert list(by_floor) == [1, 2, 4, 7, 8, 9, 10, 12, 13, 17, 21, 22, 23, 24, 25, 26, 27, 28, 30, 31, 32, 33, 35,
                              36, 37, 38, 39, 41, 42]
    first = by_floor[1]  # a picture only, kept: its subject is what a rule must see
    assert (first.text, first.title, first.title_inherited) == ("", "对于一个父亲来说，这个女儿14岁就死了", False)
    assert "点击展开" not in "".join(i.text for i in items)
    assert first.author == "章景轩 (怪物大宝贝)" and first.published_at == utc(2024, 8, 5, 8, 56)
    assert by_floor[2].url == f"{T2024}?pid=150719088158#floor-2" and by_floor[2].author == "杜草莓 (jkl028)"
    assert by_floor[37].author == "贴吧用户_JR5CRAD"
    assert by_floor[37].text == "這是最後一個教訓了\n父親給的最後一個教訓，停止了你的反叛期，永久有效"

    shown = replies(items)
    assert len(items) == 39 and len(shown) == 10
    assert items[1:12] == [by_floor[2], *shown]  # a floor's replies follow it
    assert shown[0] == Item(
        url=f"{T2024}?pid=150719088158&cid=150721163086", source_id="tieba-hualong",
        title="对于一个父亲来说，这个女儿14岁就死了", text="号废了重练一个而已，只是她妈后来才明白这一点",
        fetched_at=first.fetched_at, author="铭寒 (保护色度)", published_at=utc(2024, 8, 5, 15, 48),
        parent_url=T2024, title_inherited=True)
    assert [i.author for i in shown].count("快拉黑尔父 (给你磕头辣咚咚)") == 4  # five more sit in a hidden list
    assert shown[-1].text.startswith("回复 快拉黑尔父 :你要分析心理啊")
    assert shown[-1].published_at == utc(2024, 8, 5, 21, 13)


def test_lzl_html_answer_is_one_floors_replies(make_result: MakeResult) -> None:
    url = f"{TB}/p/comment?tid=9117888152&pid=150718967291&pn=1"
    items = ADAPTER.parse_detail(make_result(Path("tieba/mediacrawler_lzl_fragment_2024.html"), url), source())
    thread = f"{TB}/p/9117888152"
    assert [i.url.rpartition("cid=")[2] for i in items] == [  # 150726504693 is smileys only
        "150726506822", "150726508024", "150726509762", "150726510645", "150726514057", "150726520372",
        "150726524963", "150726535666", "150726536076"]
    assert all(i.url.startswith(f"{thread}?pid=150718967291&cid=") and i.parent_url == thread for i in items)
    assert (items[0].author, items[0].text, items[0].published_at) == (
        "可爱的搬运工94", "陈芋汐水花也不小", utc(2024, 8, 6, 14, 12))
    assert (items[5].author, items[5].text) == ("静看蚂蚁上树", "回复 国际体坛巨星青椒肉丝 :吃酸黄瓜吃多了")
    assert items[-1].author == "嗯嗯哦哦啊啊🐶 (嗯嗯哦哦啊啊哼)"


# --- pages that are not what the source promised -------------------------------------------------

@pytest.mark.parametrize("url", [LIST_URL, T2017])
def test_verification_wall_is_reported_never_parsed(make_result: MakeResult, url: str) -> None:
    page = make_result(Path("tieba/verify_wall.html"), url)
    for parse in (ADAPTER.parse_list, ADAPTER.parse_detail):
        with pytest.raises(ParseError) as caught:
            parse(page, source())
        assert caught.value.reason == VERIFICATION_WALL
        assert caught.value.reason.startswith("百度安全验证页面 (Baidu verification wall)")


def test_a_redirect_to_the_captcha_host_is_the_wall(make_result: MakeResult) -> None:
    page = make_result(Path("tieba/gne_list_rendered_2020.html"),
                       "https://wappass.baidu.com/static/captcha/tuxing.html?ak=0&backurl=x")
    with pytest.raises(ParseError, match="Baidu verification wall"):
        ADAPTER.parse_list(page, source())


def test_a_wall_without_its_title_is_still_recognised(make_result: MakeResult) -> None:
    page = (DATA / "tieba/verify_wall.html").read_text(encoding="utf-8").replace("<title>百度安全验证</title>", "")
    with pytest.raises(ParseError, match="Baidu verification wall"):
        ADAPTER.parse_list(make_result(page, LIST_URL), source())


def test_a_post_quoting_the_wall_is_content(make_result: MakeResult) -> None:
    quote = "刚才又跳出百度安全验证：网络不给力，请稍后重试 https://wappass.baidu.com/static/captcha/tuxing.html"
    page = (DATA / "tieba/hjhee_thread_raw_2017_p3922635509.html").read_text(encoding="utf-8").replace(
        "先镇楼免得又删帖", quote, 1)
    items = ADAPTER.parse_detail(make_result(page, T2017), source())
    assert len(items) == 30 and items[0].text.startswith("刚才又跳出百度安全验证")


def test_a_list_without_threads_means_the_markup_changed(make_result: MakeResult) -> None:
    page = "<html><head><title>化隆吧-百度贴吧</title></head><body><ul id='threads'><li class='thread-card'>" \
           "<a href='/p/123'>县二幼</a></li></ul></body></html>"
    with pytest.raises(ParseError, match="markup changed"):
        ADAPTER.parse_list(make_result(page, LIST_URL), source())
    with pytest.raises(ParseError, match="markup changed"):  # a thread page is not a list either
        ADAPTER.parse_list(make_result(Path("tieba/feelwing_thread_raw_2014_nba.html"), LIST_URL), source())


def test_tieba_notice_is_passed_on(make_result: MakeResult) -> None:
    page = "<html><head><title>贴吧404</title></head><body><div class='page404'><h2>很抱歉，该贴已被删除。</h2>" \
           "<a href='/'>返回贴吧首页</a></div></body></html>"
    redirected = replace(make_result(page, f"{TB}/index.html?from=404"), url=T2017)
    with pytest.raises(ParseError, match="Tieba says.*该贴已被删除"):
        ADAPTER.parse_detail(redirected, source())


def test_floors_without_messages_mean_the_markup_changed(make_result: MakeResult) -> None:
    floor = "<div class='l_post j_l_post'><div class='post-body'>楼主好</div></div>"
    page = f"<html><body>{floor * 3}</body></html>"
    with pytest.raises(ParseError, match="找到 3 个楼层但没有正文"):
        ADAPTER.parse_detail(make_result(page, T2017), source())


def test_a_page_that_is_not_a_thread_url(make_result: MakeResult) -> None:
    with pytest.raises(ParseError, match="not a Tieba thread URL"):
        ADAPTER.parse_detail(make_result(Path("tieba/gne_list_rendered_2020.html"), LIST_URL), source())


def test_hostile_pages_are_read_quickly(make_result: MakeResult) -> None:
    unclosed = '<code class="pagelet_html" id="x" style="display:none;"><!--<li>' * 50_000
    nested = "<div class='l_post j_l_post'><div class='d_post_content' id='post_content_1'>" \
             + "<span>" * 10_000 + "深" + "</span>" * 10_000 + "</div><span class='tail-info'>1楼</span></div>"
    started = time.perf_counter()
    with pytest.raises(ParseError, match="markup changed"):
        ADAPTER.parse_list(make_result(unclosed, LIST_URL), source())
    assert [i.text for i in ADAPTER.parse_detail(make_result(nested, T2017), source())] == ["深"]
    assert time.perf_counter() - started < 30  # catches a quadratic walk, not a busy machine


# --- a thread's further pages ------------------------------------------------------------------

def test_list_rows_carry_their_reply_count_as_version(make_result: MakeResult) -> None:
    listing = ADAPTER.parse_list(make_result(Path("tieba/mediacrawler_list_raw_2024_daomubiji.html"), LIST_URL), source())
    assert len(listing.versions) == len(listing.links) == 48
    assert [listing.versions[link] for link in listing.links[:3]] == ["18", "36", "82"]
    search = ADAPTER.parse_list(make_result(Path("tieba/mediacrawler_search_fragment_2024.html"), LIST_URL), source())
    assert search.links and set(search.versions.values()) == {None}  # no count shown: read on every patrol


def test_thread_page_names_its_later_pages_and_its_floors_reply_pages(make_result: MakeResult) -> None:
    detail = ADAPTER.read_detail(make_result(Path("tieba/mediacrawler_thread_rendered_2024_p_detail.html"), T2024),
                                 source())
    assert detail.page == 1 and detail.pages == [f"{T2024}?pn={n}" for n in range(2, 14)]  # 尾页 is page 13
    comment = f"{TB}/p/comment?tid=9117905169"
    # floor 2: 123 replies, 5 shown → 13 pages of ten; floor 1 (no replies) and 9 (null) none
    assert [u for u in detail.more if "pid=150719088158&" in u] == [
        f"{comment}&pid=150719088158&pn={n}" for n in range(1, 14)]
    assert not [u for u in detail.more if "pid=150719031818&" in u or "pid=150719634108&" in u]
    # 2017 raw pages show no 楼中楼 at all: every floor with replies gets its pages
    raw = ADAPTER.read_detail(make_result(Path("tieba/hjhee_thread_raw_2017_p3922635509.html"), T2017), source())
    assert len(raw.pages) == 1467 and raw.pages[-1] == f"{T2017}?pn=1468"
    assert [u for u in raw.more if "pid=72290268039&" in u] == [
        f"{TB}/p/comment?tid=3922635509&pid=72290268039&pn={n}" for n in (1, 2)]  # 15 replies


def test_a_later_page_is_numbered_and_a_see_lz_view_pages_as_itself(make_result: MakeResult) -> None:
    later = ADAPTER.read_detail(make_result(Path("tieba/feelwing_thread_raw_2014_nba.html"), f"{T2014}?see_lz=1&pn=3"),
                                source())
    assert later.page == 3 and later.pages == [f"{T2014}?see_lz=1&pn={n}" for n in (4, 5)]
    first = ADAPTER.read_detail(make_result(Path("tieba/feelwing_thread_raw_2014_nba.html"), f"{T2014}?see_lz=1"),
                                source())
    assert first.page == 1 and first.pages == [f"{T2014}?see_lz=1&pn={n}" for n in (2, 3, 4, 5)]


# --- through the real pipeline -----------------------------------------------------------------

POLICY = FetchPolicy(allow_private_networks=True, delay_s=0, obey_robots=False)


@pytest.fixture
async def tieba() -> AsyncIterator[Site]:
    """A Tieba on 127.0.0.1: the 2024 list at /f, its first three threads served by the 2024, 2017
    and 2014 thread pages."""
    site = await Site().start()
    site.add("/f", (DATA / "tieba/mediacrawler_list_raw_2024_daomubiji.html").read_bytes())
    for tid, page in (("9079949995", "mediacrawler_thread_rendered_2024_p_detail.html"),
                      ("6710984997", "hjhee_thread_raw_2017_p3922635509.html"),
                      ("9017590509", "feelwing_thread_raw_2014_nba.html")):
        site.add(f"/p/{tid}", (DATA / "tieba" / page).read_bytes())
    yield site
    await site.stop()


@pytest.fixture
async def context(tmp_path: Path) -> AsyncIterator[RunContext]:
    engine = db.make_engine(f"sqlite+aiosqlite:///{tmp_path / 'yuqing.db'}")
    await db.upgrade(engine)
    async with Fetcher() as fetcher:
        yield RunContext(fetcher, db.sessionmaker(engine), Ruleset.compile(Keywords()), lambda grade: [])
    await engine.dispose()


async def test_pipeline_stores_floors_and_replies_under_their_threads(tieba: Site, context: RunContext) -> None:
    forum = source(url=f"{tieba.base}/f", max_pages=1)  # page 1 of each thread (deeper: tests/crawler/test_threads.py)
    stats = await crawl_source(forum, ADAPTER, POLICY, context, max_items=3)

    assert (stats.fetched, stats.failed, stats.errors) == (4, 0, [])
    assert stats.items == stats.new_items == 39 + 30 + 30
    async with context.sessions() as session:
        rows = await queries.list_items(session, source_id="tieba-hualong")
    per_thread = Counter(row.parent_url for row in rows)
    assert per_thread == {f"{tieba.base}/p/9079949995": 39, f"{tieba.base}/p/6710984997": 30,
                          f"{tieba.base}/p/9017590509": 30}
    reply = next(row for row in rows if row.url == f"{tieba.base}/p/9079949995?pid=150719088158&cid=150721163086")
    assert (reply.author, reply.text) == ("铭寒 (保护色度)", "号废了重练一个而已，只是她妈后来才明白这一点")
    floor = next(row for row in rows if row.url == f"{tieba.base}/p/9017590509?pid=53074720046#floor-65")
    assert floor.title == "纯原创我心中的NBA2014-2015赛季现役50大" and floor.author == "明之翼"
    # A second patrol (threads unchanged, read on, new): tests/crawler/test_threads.py


async def test_pipeline_records_the_verification_wall(tieba: Site, context: RunContext) -> None:
    tieba.add("/f", (DATA / "tieba/verify_wall.html").read_bytes())
    forum = source(url=f"{tieba.base}/f")
    stats = await crawl_source(forum, ADAPTER, POLICY, context)
    assert (stats.fetched, stats.failed, stats.items) == (1, 1, 0)
    assert stats.errors == [f"{ADAPTER.start_urls(forum)[0]}: {VERIFICATION_WALL}"]
    assert not any(path.startswith("/p/") for path in tieba.hits)
