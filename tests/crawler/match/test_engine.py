"""The matching engine: the table in cases.yaml, plus what each hit must say about itself."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jieba
import pytest
import yaml

from crawler.config.keywords import Keywords
from crawler.match import Ruleset, match_item, normalize
from crawler.match.boundaries import MAX_SPAN, confirm
from crawler.match.normalize import fold
from crawler.match.squeeze import term_key
from crawler.types import Hit, Item

TABLE: dict[str, Any] = yaml.safe_load((Path(__file__).parent / "cases.yaml").read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = TABLE["cases"]


@pytest.fixture(scope="module")
def ruleset() -> Ruleset:
    return Ruleset.compile(Keywords.from_documents(TABLE["keywords"]))


def _item(text: str = "", title: str = "", author: str | None = None) -> Item:
    return Item(url="https://example.cn/a/1", source_id="test", title=title, text=text,
                fetched_at=datetime(2024, 6, 1, tzinfo=timezone.utc), author=author)


def _case_item(case: dict[str, Any]) -> Item:
    return _item(case.get("text", ""), case.get("title", ""), case.get("author"))


def _fields(item: Item) -> dict[str, str]:
    return {"title": item.title, "text": item.text, "author": item.author or ""}


def _key(text: str) -> str:
    return term_key(fold(text))


def _check_reason(hit: Hit, item: Item) -> None:
    """Every hit explains itself: offsets point at its terms in the original text (fillers inside
    an evaded term included), the snippet marks them as published."""
    assert hit.terms, hit
    for m in hit.terms:
        assert _key(_fields(item)[m.field][m.start:m.end]) == _key(m.term), m
    assert "【" in hit.snippet and "】" in hit.snippet, hit.snippet
    marked = hit.snippet.split("【", 1)[1].split("】", 1)[0]
    assert _key(marked) in {_key(t) for t in hit.matched_terms}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(case: dict[str, Any], ruleset: Ruleset) -> None:
    item = _case_item(case)
    hits = match_item(item, ruleset)
    assert [h.rule_id for h in hits] == case["expect"]
    for hit in hits:
        _check_reason(hit, item)


def test_hit_carries_rule_and_relied_on_terms(ruleset: Ruleset) -> None:
    text = "化隆二幼的孩子们昨天出现呕吐腹泻症状，已送医。"
    [hit] = match_item(_item(text), ruleset)
    assert (hit.rule_id, hit.category, hit.grade) == ("food-safety", "安全生产", "重大")
    assert [(m.term, m.field, m.start, m.end) for m in hit.terms] == [
        ("化隆二幼", "text", 0, 4), ("呕吐", "text", 12, 14), ("腹泻", "text", 14, 16)]
    assert hit.matched_terms == ["化隆二幼", "呕吐", "腹泻"]
    assert hit.snippet == "【化隆二幼】的孩子们昨天出现【呕吐】【腹泻】症状，已送医。"


@pytest.mark.parametrize(("gap", "fires"), [(0, True), (39, True), (40, True), (41, False)])
def test_near_counts_characters_between(gap: int, fires: bool, ruleset: Ruleset) -> None:
    text = "化隆二幼" + "。" * gap + "呕吐"
    assert bool(match_item(_item(text), ruleset)) is fires


def test_full_width_offsets_point_into_the_original(ruleset: Ruleset) -> None:
    text = "化隆二幼的ＡＰＰ泄露了家长信息。"
    [hit] = match_item(_item(text), ruleset)
    app = next(m for m in hit.terms if m.term == "APP")
    assert text[app.start:app.end] == "ＡＰＰ"
    assert "【ＡＰＰ】" in hit.snippet  # the snippet quotes the text as published


def test_snippet_is_cut_around_the_first_term(ruleset: Ruleset) -> None:
    text = "前情提要" * 20 + "化隆二幼多名幼儿呕吐，\n\n  已送医。" + "后续报道" * 20
    [hit] = match_item(_item(text, title="县二幼出事了"), ruleset)
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")
    assert "【化隆二幼】多名幼儿【呕吐】， 已送医" in hit.snippet  # text preferred, whitespace folded
    assert 40 <= len(hit.snippet) <= 70
    assert {m.field for m in hit.terms} == {"text"}  # near pairs within a field; the title has none


def test_snippet_from_title_when_only_the_title_matches(ruleset: Ruleset) -> None:
    [hit] = match_item(_item("正文无关。", title="化隆二幼被曝光"), ruleset)
    assert hit.snippet == "【化隆二幼】被【曝光】"


def test_near_relies_on_the_close_pair_only(ruleset: Ruleset) -> None:
    text = "化隆二幼" + "，" * 60 + "县二幼有孩子呕吐。"
    [hit] = match_item(_item(text), ruleset)
    assert [m.term for m in hit.terms] == ["县二幼", "呕吐"]


def test_match_is_pure(ruleset: Ruleset) -> None:
    item = _item("家长投诉化隆二幼乱收费，孩子腹泻。", title="化隆二幼被曝光")
    first = match_item(item, ruleset)
    assert match_item(item, ruleset) == first
    assert match_item(replace(item), ruleset) == first


def test_jieba_only_on_windows(ruleset: Ruleset, monkeypatch: pytest.MonkeyPatch) -> None:
    segmented: list[str] = []
    original = ruleset.tokenizer.tokenize

    def spy(text: str, *args: Any, **kwargs: Any) -> Any:
        segmented.append(text)
        return original(text, *args, **kwargs)

    monkeypatch.setattr(ruleset.tokenizer, "tokenize", spy)
    filler = "今天天气很好，大家出去玩。" * 200
    assert match_item(_item(filler + "有孩子呕吐" + filler), ruleset) == []
    assert segmented == []  # no rule could fire: no segmentation at all
    hits = match_item(_item(filler + "化隆二幼有孩子呕吐" + filler + "县二幼" + filler), ruleset)
    assert [h.rule_id for h in hits] == ["food-safety"]
    assert segmented and all(len(s) <= MAX_SPAN for s in segmented)
    assert sum(len(s) for s in segmented) < 200


def test_global_jieba_dictionary_untouched(ruleset: Ruleset) -> None:
    assert ruleset.tokenizer is not jieba.dt
    assert "化隆二幼" in ruleset.tokenizer.FREQ
    assert "化隆二幼" not in (getattr(jieba.dt, "FREQ", None) or {})


def test_compile_rejects_unknown_group() -> None:
    from crawler.config.keywords import RuleSpec

    rule = RuleSpec.model_validate({"id": "x", "category": "c", "require": "无此组", "any": ["a"]})
    with pytest.raises(ValueError, match="无此组"):
        Ruleset.compile(Keywords(groups={}, rules=[rule]))


def test_no_rules_match_nothing() -> None:
    assert match_item(_item("化隆二幼呕吐"), Ruleset.compile(Keywords())) == []


def test_normalize_keeps_length() -> None:
    assert normalize("ＡＢＣ　ａｂｃ！１２３") == "abc abc!123"
    for text in ("İstanbul ＡＰＰ", "化隆二幼ÀÉ", "ΣΑΣ"):
        assert len(normalize(text)) == len(text)


@pytest.mark.parametrize(("text", "term", "confirmed"), [
    ("化隆二幼的孩子们", "化隆二幼", True),
    ("某县二幼儿园", "县二幼", False),      # 某县/二/幼儿园: 幼儿园 straddles the end
    ("本县二幼儿童", "县二幼", True),       # 本/县二幼/儿童
    ("南京市长江大桥", "市长", False),      # 南京市/长江大桥
    ("结婚的和尚未结婚的", "和尚", False),  # 和/尚未
    ("孩子的呕吐物", "呕吐", True),        # contained in a compound: still the term
    ("email地址", "ai", False),
    ("热线12345投诉", "12345", True),
    ("拨打123456", "12345", False),
])
def test_boundaries(text: str, term: str, confirmed: bool, ruleset: Ruleset) -> None:
    start = text.index(term)
    span = (start, start + len(term))
    tokenizer = ruleset.tokenizer if term in ruleset.tokenizer.FREQ else _tokenizer_with(term)
    assert (span in confirm(text, [span], tokenizer)) is confirmed


def _tokenizer_with(term: str) -> jieba.Tokenizer:
    rules = {"rules": [{"id": "t", "category": "c", "any": [term]}]}
    return Ruleset.compile(Keywords.from_documents([rules])).tokenizer


def test_nested_aliases_are_one_mention() -> None:
    keywords = Keywords.from_documents([
        {"group": "本单位", "terms": ["化隆县二幼", "县二幼"]},
        {"rules": [{"id": "r", "category": "c", "require": "本单位", "any": ["腹泻"], "near": 10}]},
    ])
    [hit] = match_item(_item("化隆县二幼多名孩子腹泻"), Ruleset.compile(keywords))
    assert [(m.term, m.start, m.end) for m in hit.terms] == [("化隆县二幼", 0, 5), ("腹泻", 9, 11)]
