"""Regex terms with a time limit, global exclusions, and field scope in the engine."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Any

import pytest

from crawler.config.keywords import Keywords
from crawler.match import Ruleset, match_item
from crawler.match.patterns import find_all
from crawler.types import Item

GROUP = {"group": "本单位", "terms": ["化隆二幼", "县二幼"]}


def _compile(*documents: dict[str, Any]) -> Ruleset:
    return Ruleset.compile(Keywords.from_documents([GROUP, *documents]))


def _item(text: str = "", title: str = "", author: str | None = None, url: str = "https://example.cn/1") -> Item:
    return Item(url=url, source_id="t", title=title, text=text, author=author,
                fetched_at=datetime(2024, 6, 1, tzinfo=timezone.utc))


def test_regex_term_with_near_and_offsets() -> None:
    ruleset = _compile({"rules": [{"id": "fees", "category": "c", "require": "本单位", "near": 20,
                                   "any": ["re:每[个名]?(孩子|幼儿)[0-9]{3,5}元"]}]})
    text = "县二幼开学要交每个孩子800元资料费"
    [hit] = match_item(_item(text), ruleset)
    regex_match = hit.terms[1]
    assert regex_match.term == "re:每[个名]?(孩子|幼儿)[0-9]{3,5}元"
    assert text[regex_match.start:regex_match.end] == "每个孩子800元"
    assert "【每个孩子800元】" in hit.snippet
    assert match_item(_item("县二幼开学要交资料费"), ruleset) == []


def test_regex_runs_on_folded_text_case_insensitively() -> None:
    ruleset = _compile({"rules": [{"id": "r", "category": "c", "require": "本单位", "any": ["re:app.{0,3}泄露"]}]})
    assert match_item(_item("化隆二幼的ＡＰＰ又洩露了"), ruleset)


def test_regex_in_not_and_only_regex_rules() -> None:
    ruleset = _compile({"rules": [
        {"id": "phone", "category": "c", "any": [r"re:1[3-9]\d{9}"], "not": [r"re:客服电话"]},
    ]})
    assert [h.rule_id for h in match_item(_item("联系我13912345678"), ruleset)] == ["phone"]
    assert match_item(_item("客服电话13912345678"), ruleset) == []


def test_catastrophic_regex_is_cut_off_and_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    ruleset = _compile({"rules": [
        {"id": "slow", "category": "c", "require": "本单位", "any": ["re:(a|a)+$"]},
        {"id": "slow-too", "category": "c", "require": "本单位", "any": ["re:(a|a)+$", "呕吐"]},
        {"id": "fine", "category": "c", "require": "本单位", "any": ["呕吐"]},
    ]})
    item = _item("化隆二幼呕吐" + "a" * 40 + "!", title="化隆二幼" + "a" * 40 + "!")
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="crawler.match.engine"):
        hits = match_item(item, ruleset)
    assert time.monotonic() - started < 2  # two fields x 50 ms, not forever
    assert [h.rule_id for h in hits] == ["fine"]  # the rules using the slow pattern are skipped
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2  # once per rule, although two fields timed out
    assert all("(a|a)+$" in w and item.url in w for w in warnings)
    assert {"slow", "slow-too"} == {w.split()[1] for w in warnings}


def test_find_all_skips_empty_matches_and_times_out() -> None:
    import regex

    assert find_all(regex.compile(r"a*"), "baab") == [(1, 3)]
    with pytest.raises(TimeoutError):
        find_all(regex.compile(r"(a|a)+$"), "a" * 40 + "!", timeout_s=0.01)


def test_global_exclusion_silences_every_rule() -> None:
    ruleset = _compile(
        {"rules": [{"id": "food", "category": "安全生产", "require": "本单位", "any": ["呕吐"]},
                   {"id": "fees", "category": "声誉", "require": "本单位", "any": ["乱收费"]}]},
        {"exclude": ["招聘启事"]},
    )
    assert [h.rule_id for h in match_item(_item("化隆二幼呕吐，乱收费"), ruleset)] == ["food", "fees"]
    assert match_item(_item("化隆二幼招聘启事：呕吐，乱收费"), ruleset) == []
    assert match_item(_item("化隆二幼呕吐，乱收费", title="招 聘 启 事"), ruleset) == []  # evasion-proof too


def test_exclusion_by_category_and_group() -> None:
    ruleset = _compile(
        {"group": "演练词", "terms": ["演练", "演习"]},
        {"rules": [{"id": "food", "category": "安全生产", "require": "本单位", "any": ["呕吐"]},
                   {"id": "fees", "category": "声誉", "require": "本单位", "any": ["乱收费"]}]},
        {"exclude": ["@演练词"], "categories": ["安全生产"]},
    )
    assert [h.rule_id for h in match_item(_item("化隆二幼演习中模拟呕吐，另有家长说乱收费"), ruleset)] == ["fees"]


def test_author_scope() -> None:
    ruleset = _compile({"rules": [{"id": "own", "category": "c", "any": ["@本单位"], "fields": ["author"]},
                                  {"id": "body", "category": "c", "any": ["@本单位"]}]})
    assert [h.rule_id for h in match_item(_item("今天天气好", author="化隆二幼官方"), ruleset)] == ["own"]
    assert [h.rule_id for h in match_item(_item("化隆二幼", author="网友"), ruleset)] == ["body"]
    [hit] = match_item(_item("", author="县 二 幼"), ruleset)
    assert (hit.terms[0].field, hit.terms[0].start, hit.terms[0].end) == ("author", 0, 5)
