"""decode_body: declarations, lies, detection, and never raising."""

from __future__ import annotations

import codecs
import random

import pytest

from crawler.fetch.charset import decode_body

CHINESE = "网信办通报：某地发生重大舆情事件，相关部门已介入调查。镕"  # 镕 is in GBK, not in GB2312


def same_page(decoded: str, utf8_twin: str) -> bool:
    """The twin was saved without the <meta charset> line (and with a final newline): compare the rest."""
    return [line for line in decoded.splitlines() if "<meta charset" not in line] == utf8_twin.splitlines()


def page(charset_meta: str = "", text: str = CHINESE) -> str:
    return f"<html><head>{charset_meta}<title>标题</title></head><body><p>{text}</p></body></html>"


def test_forced_encoding_first() -> None:
    body = page().encode("gbk")
    assert decode_body(body, "text/html; charset=utf-8", forced="gbk") == (page(), "gb18030")


def test_unknown_forced_encoding_ignored() -> None:
    assert decode_body(page().encode("utf-8"), None, forced="no-such-charset") == (page(), "utf-8")


def test_header_charset() -> None:
    assert decode_body(page().encode("big5", "ignore"), "text/html; charset=Big5")[1] == "big5"


def test_header_charset_quoted() -> None:
    assert decode_body(page().encode("gbk"), 'text/html; charset="GBK"') == (page(), "gb18030")


def test_gb2312_label_read_as_gb18030() -> None:
    body = page('<meta charset="gb2312">').encode("gbk")
    text, encoding = decode_body(body, "text/html; charset=gb2312")
    assert encoding == "gb18030" and "镕" in text


def test_meta_charset() -> None:
    html = page('<meta charset="gbk">')
    assert decode_body(html.encode("gbk"), "text/html") == (html, "gb18030")


def test_meta_http_equiv() -> None:
    html = page('<meta http-equiv="Content-Type" content="text/html; charset=gb2312">')
    assert decode_body(html.encode("gbk"), None) == (html, "gb18030")


def test_meta_beyond_4kb_is_not_read_but_detection_still_works() -> None:
    html = "<html><head>" + " " * 5000 + '<meta charset="gbk"></head><body>' + CHINESE * 20 + "</body></html>"
    text, encoding = decode_body(html.encode("gbk"), None)
    assert text == html and encoding == "gb18030"


def test_xml_declaration() -> None:
    xml = f'<?xml version="1.0" encoding="GB2312"?><rss><title>{CHINESE}</title></rss>'
    assert decode_body(xml.encode("gbk"), "application/rss+xml") == (xml, "gb18030")


def test_utf8_declared_but_gbk_sent(gbk_raw: bytes, utf8_twin: str) -> None:
    text, encoding = decode_body(gbk_raw, "text/html; charset=utf-8")
    assert encoding == "gb18030"
    assert same_page(text, utf8_twin)


def test_gbk_declared_but_utf8_sent(utf8_twin: str) -> None:
    assert decode_body(utf8_twin.encode("utf-8"), "text/html; charset=gbk") == (utf8_twin, "utf-8")


def test_gbk_label_on_a_short_utf8_text_that_gb18030_would_also_decode() -> None:
    html = "<html><body><p>化隆二幼多名幼儿呕吐</p></body></html>"  # an RSS snippet, a one-line post
    body = html.encode("utf-8")
    assert body.decode("gb18030") != html  # strict GB18030 takes these bytes too: the label alone gives mojibake
    assert decode_body(body, "text/html; charset=gbk") == (html, "utf-8")


def test_two_characters_are_too_little_evidence_against_the_label() -> None:
    body = "<p>送医</p>".encode()
    assert decode_body(body, "text/html; charset=gbk") == (body.decode("gb18030"), "gb18030")


def test_gbk_without_any_declaration_is_detected(gbk_raw: bytes, utf8_twin: str) -> None:
    body = gbk_raw.replace(b'       <meta charset="gb2312" />\n', b"")
    text, encoding = decode_body(body, "text/html")
    assert encoding == "gb18030" and same_page(text, utf8_twin)


def test_latin1_header_on_utf8_body() -> None:
    html = page()
    assert decode_body(html.encode("utf-8"), "text/html; charset=ISO-8859-1") == (html, "utf-8")


def test_real_latin1_page() -> None:
    html = "<p>Les élèves sont allés à l'école.</p>"
    assert decode_body(html.encode("latin-1"), "text/html; charset=iso-8859-1") == (html, "cp1252")


def test_utf8_bom() -> None:
    assert decode_body(codecs.BOM_UTF8 + page().encode("utf-8"), "text/html; charset=gbk") == (page(), "utf-8")


def test_utf16_bom() -> None:
    assert decode_body(page().encode("utf-16"), None) == (page(), "utf-16-le")


def test_unknown_label_ignored() -> None:
    assert decode_body(page().encode("utf-8"), "text/html; charset=x-no-such") == (page(), "utf-8")


@pytest.mark.parametrize("label", ["zlib", "rot13", "undefined", "unicode_escape", "utf-7", "utf-8\x00", "中文"])
def test_labels_that_are_no_page_encoding_ignored(label: str) -> None:
    assert decode_body(page().encode("utf-8"), f"text/html; charset={label}", forced=label) == (page(), "utf-8")


def test_empty_body() -> None:
    assert decode_body(b"", None) == ("", "utf-8")


def test_undecodable_bytes_fall_back_without_raising() -> None:
    text, _ = decode_body(b"\xc3\x28\xa0\xa1 abc \xff", "text/html; charset=utf-8")
    assert "abc" in text


@pytest.mark.parametrize("seed", range(20))
def test_random_bytes_never_raise(seed: int) -> None:
    rng = random.Random(seed)
    body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000)))
    label = rng.choice([None, "text/html; charset=utf-8", "text/html; charset=gbk", "text/html; charset=utf-16"])
    text, encoding = decode_body(body, label)
    assert isinstance(text, str) and encoding
