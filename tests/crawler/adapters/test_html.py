"""The generic HTML adapter: link lists, and articles from real Chinese news pages.

Article pages are the magic-html test set: each has a hand-labelled main ``content``. The text
score is a character-level F1 (whitespace ignored) against that label; the floors are the
values measured when the extractor was written, minus a small margin, so a regression shows.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from crawler.adapters import ParseError
from crawler.adapters.html import SITE_TZ, extract_article, extract_links, html_to_text, parse_time

if TYPE_CHECKING:
    from conftest import MakeResult

UTC = timezone.utc
MARGIN = 0.03


def char_f1(predicted: str, gold: str) -> tuple[float, float, float]:
    """(precision, recall, F1) over the multiset of non-space characters."""
    p = Counter(c for c in predicted if not c.isspace())
    g = Counter(c for c in gold if not c.isspace())
    common = sum((p & g).values())
    if not common:
        return 0.0, 0.0, 0.0
    precision, recall = common / sum(p.values()), common / sum(g.values())
    return precision, recall, 2 * precision * recall / (precision + recall)


# page, real headline, author, published (UTC), measured F1 (precision / recall)
ARTICLES = [
    ("163_dy_bb5f5ce0c70b", "租户将车停自家院子要交“资源占用费”？村民打“12345”讨说法", "网易",
     datetime(2024, 5, 13, 1, 16, 4, tzinfo=UTC), 1.000),  # 1.000 / 1.000
    ("kepu_gov_cn_4e55eac42f97", "习近平主持召开深入推进长三角一体化发展座谈会", "中国科普网",
     datetime(2023, 12, 1, 6, 43, tzinfo=UTC), 0.966),  # 0.934 / 1.000: a repeated closing paragraph
    ("news_cn_politics_14b709df543c",
     "李强在新疆调研时强调 彰显特色优势 提高开放水平 在高质量发展中增进民生福祉促进长治久安", "新华网",
     datetime(2024, 5, 9, 14, 27, 2, tzinfo=UTC), 0.991),  # 1.000 / 0.981: the label keeps video-player text
    ("sohu_e75180020469", "中法经贸合作广度深度不断拓展", None,
     datetime(2024, 5, 12, 22, 15, tzinfo=UTC), 1.000),  # 1.000 / 1.000; og:title carries "_中国_法国_全球"
]


@pytest.mark.parametrize(("name", "headline", "author", "published", "measured_f1"), ARTICLES,
                         ids=[a[0] for a in ARTICLES])
def test_real_article_pages(make_result: MakeResult, data_dir: Path, name: str, headline: str,
                            author: str | None, published: datetime, measured_f1: float) -> None:
    label = json.loads((data_dir / "news" / "magic_html" / f"{name}.label.json").read_text("utf-8"))
    result = make_result(Path("news") / "magic_html" / f"{name}.html", label["url"])

    item = extract_article(result, "site")

    assert item.title == headline
    assert item.author == author
    assert item.published_at == published
    precision, recall, f1 = char_f1(item.text, label["content"])
    assert recall >= 0.95, f"recall {recall:.3f}"
    assert f1 >= measured_f1 - MARGIN, f"P={precision:.3f} R={recall:.3f} F1={f1:.3f}"
    assert item.url == label["url"] and item.source_id == "site" and item.fetched_at == result.fetched_at


def test_real_forum_thread_page_gives_every_post(make_result: MakeResult, data_dir: Path) -> None:
    """A Discuz! X3.3 thread read by the generic extractor: the label is the whole thread. Before
    repeated records were merged, the English copyright notice in the footer won (F1 0.049)."""
    name = "magic_html_csolbbs_viewthread_X3.3_38672"
    label = json.loads((data_dir / "discuz" / f"{name}.label.json").read_text("utf-8"))
    item = extract_article(make_result(Path("discuz") / f"{name}.html", label["url"]), "forum")

    assert item.title == "建议对鼠神进行改版"
    assert item.published_at == datetime(2024, 4, 5, 15, 20, 45, tzinfo=UTC)  # the first post's 发表于
    lines = item.text.splitlines()
    assert lines[0].startswith("建议对鼠神进行改版，现在的鼠神说是传奇")
    assert lines[-3:] == ["顶你，鼠神真的是太*了，攻击低，*太少，玩灾变居然还要自己买*", "同质化太严重了就没意思了",
                          "莲花能自动蓄能恢复……这*点就可以重新站起来了（强烈复议）"]  # replies, in page order
    assert "Copyright" not in item.text and "发表于" not in item.text
    precision, recall, f1 = char_f1(item.text, label["content"])
    # measured 1.000 / 0.929 / 0.963: the label also keeps the subject line and "[复制链接]"
    assert f1 >= 0.963 - MARGIN, f"P={precision:.3f} R={recall:.3f} F1={f1:.3f}"


# --- titles --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page_title", "expected"),
    [
        ("县二幼食堂通过验收_新浪新闻", "县二幼食堂通过验收"),
        ("县二幼食堂通过验收 - 网易", "县二幼食堂通过验收"),
        ("县二幼食堂通过验收|澎湃新闻", "县二幼食堂通过验收"),
        ("县二幼食堂通过验收--人民网", "县二幼食堂通过验收"),
        ("新闻中心 - 县二幼食堂通过验收_化隆县人民政府", "县二幼食堂通过验收"),
        ("COVID-19疫苗接种安排-中新网", "COVID-19疫苗接种安排"),  # a hyphen inside a word is no separator
    ],
)
def test_title_from_title_element_loses_the_site_suffix(make_result: MakeResult, page_title: str,
                                                        expected: str) -> None:
    page = f"<html><head><title>{page_title}</title></head><body><p>正文。</p></body></html>"
    assert extract_article(make_result(page), "s").title == expected


def test_logo_h1_is_not_the_headline(make_result: MakeResult) -> None:
    page = """<html><head><title>化隆县召开安全生产会议 - 化隆县人民政府门户网站</title></head><body>
      <h1><a href="/"><span>化隆县人民政府网站</span></a></h1><div><p>会议要求，……</p></div></body></html>"""
    assert extract_article(make_result(page), "s").title == "化隆县召开安全生产会议"


def test_h1_echoed_by_title_wins_over_a_logo_h1(make_result: MakeResult) -> None:
    page = """<html><head><title>县二幼开展消防演练_网易新闻</title></head><body>
      <h1><a href="/">网易</a></h1><h1>县二幼开展消防演练</h1><p>正文。</p></body></html>"""
    assert extract_article(make_result(page), "s").title == "县二幼开展消防演练"


def test_og_title_cut_short_by_a_stray_quote_yields_to_the_h1(make_result: MakeResult) -> None:
    page = """<html><head><meta property="og:title" content="狂奔的龙湖集团" 暗伤"曝露？">
      <title>狂奔的龙湖集团"暗伤"曝露？_网易财经</title></head>
      <body><h1>狂奔的龙湖集团"暗伤"曝露？</h1><p>正文。</p></body></html>"""
    assert extract_article(make_result(page), "s").title == '狂奔的龙湖集团"暗伤"曝露？'


def test_title_selector_wins(make_result: MakeResult) -> None:
    page = "<title>站名</title><h1>栏目</h1><div class='t'> 真正的 标题 </div><p>正文。</p>"
    assert extract_article(make_result(page), "s", title_selector="div.t").title == "真正的 标题"


# --- main text -----------------------------------------------------------------------------------

ARTICLE_PAGE = """<html><head><title>化隆二幼多名幼儿呕吐_化隆新闻网</title>
<style>p { color: red }</style><script>var x = "不应出现的脚本";</script></head>
<body><form id="form1" action="default.aspx">
 <div class="header"><a href="/">首页</a> <a href="/news">新闻</a></div>
 <nav><a href="/a">导航一</a><a href="/b">导航二</a></nav>
 <div class="main">
  <h1>化隆二幼多名幼儿呕吐</h1>
  <div class="info">来源：化隆日报  作者：张三  2024年03月05日 14:02</div>
  <div class="article">
   <p>3月4日中午，化隆县第二幼儿园多名幼儿午餐后出现<a href="/t/1">呕吐</a>、腹泻症状，已送医观察。</p>
   <p>县市场监管局已对幼儿园食堂进行检查，留样食品已送检，结果将及时公布。</p>
   <p>目前，就诊幼儿情况稳定，家长情绪平稳，园方表示将配合调查。</p>
   <div class="related">延伸阅读<ul><li><a href="/n/9">县一中举办运动会</a></li>
     <li><a href="/n/8">县医院开展义诊活动进社区</a></li></ul></div>
  </div>
 </div>
 <aside><p>热点：某地发生另一件事，这里的文字虽然很长很长很长，却不是正文。</p></aside>
 <div id="footer"><p>版权所有 化隆新闻网 备案号：青ICP备00000000号，联系电话：0000-0000000。</p></div>
</form></body></html>"""


def test_main_text_is_the_article_paragraphs_only(make_result: MakeResult) -> None:
    item = extract_article(make_result(ARTICLE_PAGE), "s")
    assert item.text.splitlines() == [
        "3月4日中午，化隆县第二幼儿园多名幼儿午餐后出现呕吐、腹泻症状，已送医观察。",  # the link stays inline
        "县市场监管局已对幼儿园食堂进行检查，留样食品已送检，结果将及时公布。",
        "目前，就诊幼儿情况稳定，家长情绪平稳，园方表示将配合调查。",
    ]  # no script, nav, header, aside, footer, nor the "延伸阅读" list of other stories
    assert item.title == "化隆二幼多名幼儿呕吐"


def test_byline_from_page_text(make_result: MakeResult) -> None:
    item = extract_article(make_result(ARTICLE_PAGE), "s")
    assert item.author == "张三"  # 作者 is preferred to 来源
    assert item.published_at == datetime(2024, 3, 5, 6, 2, tzinfo=UTC)  # 14:02 Beijing time


def test_source_line_when_there_is_no_author(make_result: MakeResult) -> None:
    page = "<h1>标题</h1><div>来源： 青海日报 2024-03-05</div><div><p>正文第一段，内容。</p></div>"
    item = extract_article(make_result(page), "s")
    assert item.author == "青海日报"
    assert item.published_at == datetime(2024, 3, 4, 16, 0, tzinfo=UTC)  # midnight Beijing time


def test_meta_tags_win_and_a_bare_date_is_refined_by_the_byline(make_result: MakeResult) -> None:
    page = """<head><meta name="publishdate" content="2024-05-09"><meta name="author" content="新华网"></head>
      <body><h1>标题</h1><div>2024-05-09 20:52:10 来源：别处</div><div><p>正文，内容。</p></div></body>"""
    item = extract_article(make_result(page), "s")
    assert item.author == "新华网"
    assert item.published_at == datetime(2024, 5, 9, 12, 52, 10, tzinfo=UTC)


def test_dates_far_from_the_headline_are_ignored(make_result: MakeResult) -> None:
    body = "<p>正文很长，" + "内容，" * 200 + "2009年5月14日逝世。</p>"
    page = f"<h1>标题</h1><div>分享</div><div>{body}</div><ul><li>2020-01-01 旧闻</li></ul>"
    assert extract_article(make_result(page), "s").published_at is None


def test_article_with_br_separated_paragraphs(make_result: MakeResult) -> None:
    page = """<table><tr><td class="nav"><a href="/1">首页</a> <a href="/2">概况</a></td></tr>
      <tr><td>　　第一段，政府网站常用换行分段。<br>　　第二段，没有 p 元素。<br><br>第三段，结束。</td></tr></table>"""
    text = extract_article(make_result(page), "s").text
    assert text.splitlines() == ["第一段，政府网站常用换行分段。", "第二段，没有 p 元素。", "第三段，结束。"]


FORUM_THREAD = """<html><head><title>县二幼食堂的事 - 化隆论坛</title></head><body>
 <div id="postlist">{posts}</div>
 <div class="cr_address_en">Copyright © 2024 Example Network Technology Co., Ltd. All Rights Reserved.
  Example, Example Forum and the Example logo are trademarks or registered trademarks of Example Ltd.
  Licensed to Example Digital Entertainment Co., Ltd. in China for operation and customer support.</div>
</body></html>"""
FORUM_POST = """<div id="post_{pid}"><table class="plhin" id="pid{pid}"><tr>
 <td class="pls"><div class="authi"><a href="/u/{pid}" class="xw1">网友{pid}</a></div>
  <dl><dt>积分</dt><dd>53</dd></dl></td>
 <td class="plc"><div class="authi"><em id="authorposton{pid}">发表于 2024-4-5 23:20:45</em>
  <a href="/t?authorid={pid}">只看该作者</a></div>
  <div class="pcb"><table><tr><td class="t_f" id="postmessage_{pid}">{text}</td></tr></table></div>
  <div class="po"><a href="#">回复</a> <a href="#">举报</a></div></td></tr></table></div>"""


def test_forum_thread_gives_every_post_not_the_footer(make_result: MakeResult) -> None:
    texts = ["县二幼食堂的饭菜最近怎么样？有家长知道吗？", "顶一下", "我家孩子说还行。<br>就是菜有点咸。"]
    posts = "".join(FORUM_POST.format(pid=53876 + i, text=text) for i, text in enumerate(texts))
    item = extract_article(make_result(FORUM_THREAD.format(posts=posts)), "s")
    # neither the long English copyright notice nor the author panels, dates and buttons
    assert item.text.splitlines() == ["县二幼食堂的饭菜最近怎么样？有家长知道吗？", "顶一下", "我家孩子说还行。", "就是菜有点咸。"]


def test_header_article_and_footer_tables_at_the_same_place_do_not_merge(make_result: MakeResult) -> None:
    """Old government sites lay a page out as a stack of plain tables: same place, nothing else alike."""
    page = """<body>
      <table><tr><td><img src="logo.gif"><a href="/">首页</a> <a href="/zw">政务公开</a></td></tr></table>
      <table><tr><td><h1>县政府召开常务会议</h1><p>3月5日，县政府召开第十二次常务会议，研究部署春耕生产工作。</p>
        <p>会议要求，各乡镇要抓好农资供应，确保不误农时。</p></td></tr></table>
      <table><tr><td>主办单位：化隆县人民政府办公室 地址：化隆县巴燕镇 电话：0972-8712345</td></tr></table></body>"""
    assert extract_article(make_result(page), "s").text.splitlines() == [
        "县政府召开常务会议", "3月5日，县政府召开第十二次常务会议，研究部署春耕生产工作。",
        "会议要求，各乡镇要抓好农资供应，确保不误农时。"]  # no 主办单位 line from the footer table


def test_repeated_records_without_common_furniture_do_not_merge(make_result: MakeResult) -> None:
    """Two article boxes at the same place, but one is a bare text box: no shared author panel."""
    page = """<body><div class="box"><div class="meta"><span class="a">作者：张三</span><span class="t">2024-03-05</span>
      </div><div class="text"><p>正文第一段，内容较长，县里召开会议部署工作。</p><p>正文第二段。</p></div></div>
      <div class="box"><div class="text"><p>另一段无关的说明文字，比如网站声明。</p></div></div></body>"""
    assert "网站声明" not in extract_article(make_result(page), "s").text


def test_form_wrapping_the_whole_page_is_kept(make_result: MakeResult) -> None:
    page = "<form><div><p>整页包在表单里的正文，内容。</p></div></form><form><input name=q>搜索</form>"
    assert extract_article(make_result(page), "s").text == "整页包在表单里的正文，内容。"


def test_text_selector_wins(make_result: MakeResult) -> None:
    page = "<div class='a'><p>短的。</p></div><div class='b'><p>" + "长的正文，" * 50 + "</p></div>"
    item = extract_article(make_result(page), "s", text_selector="div.a")
    assert item.text == "短的。"
    assert extract_article(make_result(page), "s", text_selector="div.missing").text == ""


def test_invalid_selector_is_a_parse_error(make_result: MakeResult) -> None:
    with pytest.raises(ParseError, match="text_selector"):
        extract_article(make_result("<p>x</p>"), "s", text_selector="div[")
    with pytest.raises(ParseError, match="title_selector"):
        extract_article(make_result("<p>x</p>"), "s", title_selector="!!")


@pytest.mark.parametrize(
    "page",
    [
        "",
        "   ",
        "\x00\x01\xff<<<>>><</p><p<p>>>",
        "<html><body></body></html>",
        "<div>" * 3000 + "深层嵌套的文字，内容。" + "</div>" * 3000,
        "<p>" + "<span>" * 3000 + "深层行内" + "</span>" * 3000 + "</p>",
        "<h1>" + "<a>" * 2000 + "x",
        "<meta name='pubdate' content='2024-13-45 99:99'><meta name='author' content=''><p>正文</p>",
        "<base href='http://[bad'><a href='http://e.cn:xx/'>坏链接</a>",
        "<title>" + "_" * 1000 + "</title>",
    ],
    ids=["empty", "blank", "garbage", "empty-body", "deep-blocks", "deep-inline", "unclosed", "bad-meta",
         "bad-urls", "all-separators"],
)
def test_hostile_html_never_raises(make_result: MakeResult, page: str) -> None:
    item = extract_article(make_result(page), "s")
    assert isinstance(item.text, str) and isinstance(item.title, str)


def test_empty_page_gives_an_empty_item(make_result: MakeResult) -> None:
    item = extract_article(make_result(""), "s")
    assert (item.title, item.text, item.author, item.published_at) == ("", "", None, None)


# --- dates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05 14:02", datetime(2024, 3, 5, 6, 2, tzinfo=UTC)),
        ("发布时间：2024年03月05日 14:02", datetime(2024, 3, 5, 6, 2, tzinfo=UTC)),
        ("2024年3月5日14时02分", datetime(2024, 3, 5, 6, 2, tzinfo=UTC)),
        ("2024/3/5", datetime(2024, 3, 4, 16, 0, tzinfo=UTC)),
        ("2024.03.05 09:08:07", datetime(2024, 3, 5, 1, 8, 7, tzinfo=UTC)),
        ("2024-03-05T14:02:00+08:00", datetime(2024, 3, 5, 6, 2, tzinfo=UTC)),
        ("2024-03-05T06:02:00.123Z", datetime(2024, 3, 5, 6, 2, tzinfo=UTC)),
        ("2024-03-05T14:02:00-0500", datetime(2024, 3, 5, 19, 2, tzinfo=UTC)),
        ("2024-13-45 然后 2024-03-05", datetime(2024, 3, 4, 16, 0, tzinfo=UTC)),  # invalid date skipped
        ("电话 12024-03-05", None),
        ("没有日期", None),
    ],
)
def test_parse_time(text: str, expected: datetime | None) -> None:
    assert parse_time(text) == expected


def test_parse_time_default_zone() -> None:
    assert parse_time("2024-03-05 14:02", UTC) == datetime(2024, 3, 5, 14, 2, tzinfo=UTC)
    assert str(SITE_TZ) == "Asia/Shanghai"


def test_html_to_text_keeps_sentences_whole() -> None:
    fragment = "<p>第一段有<a href='x'>链接</a>和<b>粗体</b>。</p><p>第二段<br>换行</p>&nbsp;<script>x()</script>"
    assert html_to_text(fragment) == "第一段有链接和粗体。\n第二段\n换行"


# --- list pages ----------------------------------------------------------------------------------


def test_links_from_a_fund_announcement_list(make_result: MakeResult) -> None:
    result = make_result(Path("news/gerapy/list_rtfund_xxpl.html"), "http://www.rtfund.com/main/xxpl/index.shtml")
    links = extract_links(result, "#expertList1 a")
    assert len(links) == 15
    assert links[0] == "http://www.rtfund.com/main/a/20200709/12323944.shtml"
    assert "http://www.rtfund.com/main/a/20200708/12323031.shtml" in links


def test_links_from_netease_rolling_news(make_result: MakeResult) -> None:
    result = make_result(Path("news/gerapy/list_netease_rolling_news.html"), "https://news.163.com/latest/")
    links = extract_links(result, "#instantPanel .list_txt a:not(.cBlue)")
    assert len(links) == 40
    assert links[0] == "https://news.163.com/20/0816/22/FK6F0U6D0001899O.html"
    assert "http://dy.163.com/article/FK616GNC0519EO06.html" in links
    assert all("/20/08" in link or "dy.163.com/article/" in link for link in links)


@pytest.mark.parametrize(("page", "url"), [("news/gerapy/list_rtfund_xxpl.html", "http://www.rtfund.com/main/xxpl/index.shtml"),
                                           ("news/gerapy/list_netease_rolling_news.html", "https://news.163.com/latest/")])
def test_every_link_on_a_page_is_absolute_http_and_unique(make_result: MakeResult, page: str, url: str) -> None:
    links = extract_links(make_result(Path(page), url), "a")
    assert links and len(links) == len(set(links))
    assert all(link.startswith(("http://", "https://")) for link in links)  # javascript:, mailto: dropped
    assert all("#" not in link for link in links)
    assert url not in links  # "#page=2" is the page itself


def test_links_are_canonical_and_follow_base_href(make_result: MakeResult) -> None:
    page = """<head><base href="http://static.e.cn/news/"></head><body><ul class="list">
      <li><a href="2024/1.html?utm_source=rss">一</a></li>
      <li><a href=" /2024/2.html#comments ">二</a></li>
      <li><a href="HTTP://E.CN:80/2024/3.html">三</a></li>
      <li><a href="2024/1.html">一（重复）</a></li>
      <li><a href="javascript:void(0)">四</a><a href="mailto:x@e.cn">信</a><a>无链接</a></li>
      <li><a href="http://e.cn:bad/">坏</a></li></ul></body>"""
    links = extract_links(make_result(page, "http://e.cn/list.html"), "ul.list li")
    assert links == ["http://static.e.cn/news/2024/1.html", "http://static.e.cn/2024/2.html", "http://e.cn/2024/3.html"]


def test_invalid_link_selector_is_a_parse_error(make_result: MakeResult) -> None:
    with pytest.raises(ParseError, match="link_selector"):
        extract_links(make_result("<a href='/x'>x</a>"), "a[")
