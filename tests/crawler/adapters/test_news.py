"""``type: news``: article links recognised on real list pages without selectors."""

from pathlib import Path

import pytest

from crawler.adapters import NewsAdapter, ParseError
from crawler.adapters.news import guess_article_links
from crawler.config.sources import SourceSpec


def test_netease_rolling_list(make_result) -> None:
    result = make_result(Path("news/gerapy/list_netease_rolling_news.html"), "https://news.163.com/special/0001220O/news_json.html")
    links = guess_article_links(result)
    assert "https://news.163.com/20/0816/22/FK6F0U6D0001899O.html" in links
    assert "https://news.163.com/20/0816/22/FK6DGJLI0001899O.html" in links
    assert not any("lofter.com" in link or link.startswith("javascript") for link in links)
    assert len(links) == len(set(links)) >= 20


def test_synthetic_county_site(make_result) -> None:
    page = """<html><body><div class="nav"><a href="/">首页</a><a href="/xwzx/">新闻中心</a></div>
    <ul><li><a href="/xwzx/2026-11/30/content_88231.html">县教育局召开秋季学期安全工作会议</a></li>
    <li><a href="http://www.hualong.gov.cn/html/1995/202611/t20261129_4471.html">化隆县举行冬季消防安全演练活动</a></li>
    <li><a href="https://www.qq.com/2026/11/30/1234567.html">外站新闻标题也很长很长</a></li>
    <li><a href="http://e.cn:xx/2026/1/1/123456.html">坏链接坏链接坏链接</a></li>
    <li><a href="/about/contact.html">联系我们联系我们联系我们</a></li></ul></body></html>"""
    links = guess_article_links(make_result(page, "http://news.hualong.gov.cn/xwzx/"))
    assert links == ["http://news.hualong.gov.cn/xwzx/2026-11/30/content_88231.html",
                     "http://www.hualong.gov.cn/html/1995/202611/t20261129_4471.html"]


def test_selector_overrides_and_empty_list_is_an_error(make_result) -> None:
    source = SourceSpec(id="n", type="news", url="http://news.hualong.gov.cn/", link_selector="a.go")
    page = '<a class="go" href="/x.html">短</a><a href="/2026/11/30/12345.html">很长的新闻标题文字</a>'
    assert NewsAdapter().parse_list(make_result(page, "http://news.hualong.gov.cn/"), source).links == [
        "http://news.hualong.gov.cn/x.html"]
    with pytest.raises(ParseError, match="link_selector"):
        NewsAdapter().parse_list(make_result("<p>空</p>", "http://news.hualong.gov.cn/"),
                                 SourceSpec(id="n", type="news", url="http://news.hualong.gov.cn/"))
