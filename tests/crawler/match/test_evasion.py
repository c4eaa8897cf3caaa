"""Evasion-resistant matching: folding, squeezing, and offsets that still point at the original text."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from crawler.config.keywords import Keywords
from crawler.match import Ruleset, match_item, normalize
from crawler.match.normalize import fold
from crawler.match.squeeze import MAX_GAP, bigrams, squeeze_windows, term_gaps, term_key
from crawler.types import Item

KEYWORDS = [
    {"group": "本单位", "terms": ["化隆县第二幼儿园", "化隆二幼", "县二幼"]},
    {"rules": [
        {"id": "food", "category": "安全生产", "require": "本单位", "any": ["呕吐", "食物中毒"], "near": 20},
        {"id": "app", "category": "信息安全", "require": "本单位", "all": ["APP", "泄露"]},
    ]},
]


@pytest.fixture(scope="module")
def ruleset() -> Ruleset:
    return Ruleset.compile(Keywords.from_documents(KEYWORDS))


def _item(text: str, title: str = "") -> Item:
    return Item(url="https://example.cn/a", source_id="t", title=title, text=text,
                fetched_at=datetime(2024, 6, 1, tzinfo=timezone.utc))


@pytest.mark.parametrize(("text", "folded"), [
    ("化隆縣第二幼兒園", "化隆县第二幼儿园"),  # traditional → simplified, character by character
    ("ＡＰＰ１２３ａｂｃ", "app123abc"),  # full width → ASCII, lower case
    ("⼈民", "人民"),  # a Kangxi radical that looks like the ideograph
    ("①号楼", "1号楼"),
    ("APP，。“”", "app，。“”"),  # punctuation is not folded for matching: the squeezer handles it
    ("İstanbul", "İstanbul"),  # lower() would lengthen İ: kept as it is
    ("a_b", "a b"),  # "_" is a filler, like a space
])
def test_fold_is_one_to_one(text: str, folded: str) -> None:
    assert fold(text) == folded
    assert len(fold(text)) == len(text) == len(normalize(text))
    assert fold(fold(text)) == fold(text)


def test_normalize_also_folds_punctuation() -> None:
    assert normalize("化隆二幼，ＡＰＰ！") == "化隆二幼,app!"


@pytest.mark.parametrize(("term", "key"), [
    ("化隆县 第二幼儿园", "化隆县第二幼儿园"),
    ("化隆·二幼", "化隆二幼"),
    ("New  York", "new york"),  # between Latin letters a space is part of the term
    ("3.15晚会", "3.15晚会"),
    ("化隆縣", "化隆县"),
])
def test_term_keys(term: str, key: str) -> None:
    assert term_key(fold(term)) == key


def test_only_gaps_that_split_a_term_pair_are_squeezed() -> None:
    pairs = frozenset(bigrams("化隆二幼"))
    text = "今天 天气很好，化 隆 二 幼 的 孩子"
    gaps = term_gaps(text, pairs)
    assert [text[a:b] for a, b in gaps] == [" ", " ", " "]  # 化|隆, 隆|二, 二|幼; not 今天|天气, 幼|的
    [window] = squeeze_windows(text, gaps, reach=10)
    assert "化隆二幼" in window.text
    start = window.text.index("化隆二幼")
    assert window.original(start, start + 4) == (text.index("化"), text.index("幼") + 1)
    assert window.crosses_gap(start, start + 4)


@pytest.mark.parametrize("filler", [" ", "*", ".", "-", "_", "/", "|", "~", "·", "\u200b", "\u200c", "\u200d",
                                    "\ufeff", "\u3000", "\u00ad", "😡", "＊", " * "])
def test_fillers_between_characters(filler: str, ruleset: Ruleset) -> None:
    name = filler.join("化隆二幼")
    text = f"{name}的孩子呕吐了"
    [hit] = match_item(_item(text), ruleset)
    first = hit.terms[0]
    assert (first.term, first.start, first.end) == ("化隆二幼", 0, len(name))
    shown = re.sub(r"\s+", " ", name)  # snippets fold whitespace runs into one space
    assert hit.snippet.startswith(f"【{shown}】")


@pytest.mark.parametrize("separator", ["。", "，", "！", "？", "；", "：", "、", "\n", "\r\n", "…", "“", "（", "《"])
def test_separators_are_never_squeezed(separator: str, ruleset: Ruleset) -> None:
    assert match_item(_item(f"化隆{separator}二幼的孩子呕吐了"), ruleset) == []


def test_gap_longer_than_max_gap(ruleset: Ruleset) -> None:
    assert match_item(_item("化隆" + " " * MAX_GAP + "二幼的孩子呕吐"), ruleset)
    assert not match_item(_item("化隆" + " " * (MAX_GAP + 1) + "二幼的孩子呕吐"), ruleset)


def test_offsets_point_into_the_original_text(ruleset: Ruleset) -> None:
    text = "据说 化 隆 縣 第 二 幼 兒 園 昨天有孩子嘔 吐"
    [hit] = match_item(_item(text), ruleset)
    name, symptom = hit.terms
    assert text[name.start:name.end] == "化 隆 縣 第 二 幼 兒 園" and name.term == "化隆县第二幼儿园"
    assert text[symptom.start:symptom.end] == "嘔 吐" and symptom.term == "呕吐"
    assert hit.snippet == "据说 【化 隆 縣 第 二 幼 兒 園】 昨天有孩子【嘔 吐】"


def test_near_counts_original_characters(ruleset: Ruleset) -> None:
    # 20 filler characters between the name and the symptom: within near 20 only as written
    assert match_item(_item("化隆二幼" + "，" * 20 + "呕吐"), ruleset)
    assert not match_item(_item("化隆二幼" + "，" * 21 + "呕吐"), ruleset)
    assert not match_item(_item("化 隆 二 幼" + "，" * 21 + "呕吐"), ruleset)


def test_full_width_latin_in_an_all_rule(ruleset: Ruleset) -> None:
    [hit] = match_item(_item("化隆二幼的ＡＰＰ洩露了家长信息"), ruleset)
    assert hit.rule_id == "app"
    assert {m.term for m in hit.terms} == {"化隆二幼", "APP", "泄露"}


def test_a_term_inside_another_configured_term_is_not_a_mention() -> None:
    keywords = Keywords.from_documents([
        {"group": "属地", "terms": ["化隆"]},
        {"group": "本单位", "terms": ["化隆二幼"]},
        {"rules": [{"id": "county", "category": "c", "require": "属地", "any": ["污染"], "near": 10},
                   {"id": "us", "category": "c", "require": "本单位", "any": ["污染"], "near": 10}]},
    ])
    ruleset = Ruleset.compile(keywords)
    assert [h.rule_id for h in match_item(_item("化隆二幼附近有污染"), ruleset)] == ["us"]
    assert [h.rule_id for h in match_item(_item("化隆县城附近有污染"), ruleset)] == ["county"]


def test_spaced_text_costs_no_segmentation_without_a_term(ruleset: Ruleset, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = ruleset.tokenizer.tokenize
    monkeypatch.setattr(ruleset.tokenizer, "tokenize", lambda text, *a, **k: calls.append(text) or original(text, *a, **k))
    assert match_item(_item("今 天 天 气 很 好 ， 大 家 出 去 玩 。" * 50), ruleset) == []
    assert calls == []
