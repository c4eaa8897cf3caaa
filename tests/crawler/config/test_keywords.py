"""keywords/*.yaml models: the DESIGN example validates, mistakes are named by field and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from crawler.config.keywords import (
    ExcludeSpec,
    GroupSpec,
    Keywords,
    KeywordsError,
    RulesSpec,
    assemble_keywords,
    collect_keywords,
    load_keywords,
    parse_keywords_document,
)
from crawler.config.yamlfile import ConfigError, issues_from_validation, load_documents

DESIGN_EXAMPLE = """\
# keywords/institution.yaml — who we are
group: 本单位
terms: [化隆县第二幼儿园, 化隆二幼, 县二幼]
---
# keywords/rules.yaml
rules:
  - id: food-safety
    category: 安全生产
    require: 本单位              # a group must be mentioned …
    any: [食物中毒, 腹泻, 呕吐]   # … with one of these …
    near: 40                     # … within 40 characters
    not: [演练, 培训]
    grade: 重大
"""


def _rule(**overrides: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {"id": "r1", "category": "安全生产", "require": "本单位", "any": ["腹泻"]}
    rule.update(overrides)
    return {k: v for k, v in rule.items() if v is not None}


def _errors(data: Any) -> list[tuple[tuple[str | int, ...], str, str]]:
    with pytest.raises(ValidationError) as info:
        parse_keywords_document(data)
    return [(e["loc"], e["type"], e["msg"]) for e in info.value.errors()]


def test_design_example_validates(tmp_path: Path) -> None:
    path = tmp_path / "keywords.yaml"
    path.write_text(DESIGN_EXAMPLE, encoding="utf-8")
    docs = load_documents(path)
    parsed = [(doc, parse_keywords_document(doc.data)) for doc in docs]
    assert isinstance(parsed[0][1], GroupSpec) and isinstance(parsed[1][1], RulesSpec)
    keywords, issues = assemble_keywords(parsed)
    assert issues == []
    assert keywords.groups == {"本单位": ["化隆县第二幼儿园", "化隆二幼", "县二幼"]}
    [rule] = keywords.rules
    assert (rule.id, rule.category, rule.grade, rule.near, rule.enabled) == ("food-safety", "安全生产", "重大", 40, True)
    assert rule.require == ["本单位"] and rule.any == ["食物中毒", "腹泻", "呕吐"] and rule.all == []
    assert rule.not_ == ["演练", "培训"] and rule.fields == ["title", "text"]


def test_defaults_and_shorthands() -> None:
    spec = parse_keywords_document({"rules": [_rule(require=["@本单位"], any=[12345], grade=None)]})
    assert isinstance(spec, RulesSpec)
    [rule] = spec.rules
    assert rule.require == ["本单位"] and rule.any == ["12345"]  # numbers need no quotes
    assert rule.grade == "一般" and rule.near is None and rule.description is None


@pytest.mark.parametrize(("data", "loc"), [
    ({"rules": [_rule(anyy=["腹泻"])]}, ("rules", 0, "anyy")),
    ({"rules": [_rule()], "rule": []}, ("rule",)),
    ({"group": "本单位", "terms": ["化隆二幼"], "term": ["x"]}, ("term",)),
])
def test_unknown_key_is_an_error_naming_it(data: dict[str, Any], loc: tuple[Any, ...]) -> None:
    assert (loc, "extra_forbidden") in [(e[0], e[1]) for e in _errors(data)]


def test_wrong_grade() -> None:
    [(loc, kind, _)] = _errors({"rules": [_rule(), _rule(id="r2", grade="紧急")]})
    assert (loc, kind) == (("rules", 1, "grade"), "literal_error")


@pytest.mark.parametrize(("overrides", "loc", "words"), [
    ({"require": None, "any": None}, ("rules", 0), "require"),
    ({"near": 0}, ("rules", 0, "near"), ""),
    ({"near": True}, ("rules", 0, "near"), ""),
    ({"require": None, "near": 10}, ("rules", 0), "near"),
    ({"fields": ["body"]}, ("rules", 0, "fields", 0), ""),
    ({"fields": []}, ("rules", 0, "fields"), ""),
    ({"not": ["腹泻"]}, ("rules", 0), "腹泻"),
    ({"id": "has space"}, ("rules", 0, "id"), ""),
    ({"category": None}, ("rules", 0, "category"), ""),
])
def test_bad_rules(overrides: dict[str, Any], loc: tuple[Any, ...], words: str) -> None:
    errors = _errors({"rules": [_rule(**overrides)]})
    assert [e[0] for e in errors] == [loc]
    assert words in errors[0][2]


@pytest.mark.parametrize("data", [{"foo": 1}, {"group": "g", "terms": ["a"], "rules": []}, ["a"]])
def test_document_must_be_a_group_or_rules(data: Any) -> None:
    [(loc, kind, msg)] = _errors(data)
    assert (loc, kind) == ((), "keywords_document") and "group" in msg


def test_group_needs_terms() -> None:
    assert [e[0] for e in _errors({"group": "本单位", "terms": []})] == [("terms",)]
    assert [e[0] for e in _errors({"group": "@本单位", "terms": ["x"]})] == [("group",)]


def test_unknown_group_reference() -> None:
    specs = [parse_keywords_document(d) for d in (
        {"group": "本单位", "terms": ["化隆二幼"]},
        {"rules": [_rule(require=["本单位", "上级"]), _rule(id="r2", all=["@媒体", "通报"])]},
    )]
    _, problems = collect_keywords(specs)
    assert [(p.doc, p.loc) for p in problems] == [(1, ("rules", 0, "require", 1)), (1, ("rules", 1, "all", 0))]
    assert "r1" in problems[0].message and "上级" in problems[0].message
    assert "r2" in problems[1].message and "媒体" in problems[1].message


def test_duplicate_rule_ids_across_documents() -> None:
    docs = [{"group": "本单位", "terms": ["化隆二幼"]}, {"rules": [_rule()]}, {"rules": [_rule(id="r2"), _rule()]}]
    with pytest.raises(KeywordsError) as info:
        Keywords.from_documents(docs)
    [problem] = info.value.problems
    assert (problem.doc, problem.loc) == (2, ("rules", 1, "id"))
    assert "r1" in problem.message and "document 2" in problem.message
    assert isinstance(info.value, ValueError)


def test_duplicate_group() -> None:
    docs = [{"group": "本单位", "terms": ["a"]}, {"group": "本单位", "terms": ["b"]}]
    with pytest.raises(ValueError, match="duplicate group"):
        Keywords.from_documents(docs)


def test_from_documents_raises_validation_error_as_value_error() -> None:
    with pytest.raises(ValueError):
        Keywords.from_documents([{"rules": [_rule(grade="紧急")]}])


def test_issues_name_file_line_and_field(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("group: 本单位\nterms: [化隆二幼]\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text(
        "rules:\n"
        "  - id: r1\n"
        "    category: 安全生产\n"
        "    require: 上级\n"
        "    any: [腹泻]\n"
        "  - id: r1\n"
        "    category: 安全生产\n"
        "    any: [呕吐]\n"
        "    grade: 紧急\n", encoding="utf-8")
    docs = [doc for name in ("a.yaml", "b.yaml") for doc in load_documents(tmp_path / name, name)]
    with pytest.raises(ValidationError) as info:
        parse_keywords_document(docs[1].data)
    assert [str(i) for i in issues_from_validation(docs[1], info.value)] == ["b.yaml:9: rules[1].grade: Input should be '一般' or '重大'"]

    docs[1].data["rules"][1]["grade"] = "重大"
    _, issues = assemble_keywords([(doc, parse_keywords_document(doc.data)) for doc in docs])
    assert [(i.file, i.line, i.field) for i in issues] == [("b.yaml", 4, "rules[0].require[0]"), ("b.yaml", 6, "rules[1].id")]
    assert "上级" in issues[0].message and "r1" in issues[0].message
    assert "b.yaml:2" in issues[1].message  # where the first r1 is


def test_regex_terms_must_compile_and_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        "rules:\n"
        "  - id: r1\n"
        "    category: c\n"
        "    any:\n"
        "      - 腹泻\n"
        "      - 're:(呕吐'\n", encoding="utf-8")
    [doc] = load_documents(path, "r.yaml")
    with pytest.raises(ValidationError) as info:
        parse_keywords_document(doc.data)
    [issue] = issues_from_validation(doc, info.value)
    assert (issue.file, issue.line, issue.field) == ("r.yaml", 6, "rules[0].any[1]")
    assert "正则表达式无法编译" in issue.message and "missing )" in issue.message


@pytest.mark.parametrize(("term", "words"), [("re:a*", "空字符串"), ("re:", "空字符串"), ("，。！", "没有文字")])
def test_terms_that_can_never_mean_anything(term: str, words: str) -> None:
    [(loc, _, msg)] = _errors({"rules": [_rule(any=[term])]})
    assert loc == ("rules", 0, "any", 0) and words in msg


def test_regex_prefix_is_case_insensitive_and_kept() -> None:
    spec = parse_keywords_document({"rules": [_rule(any=["RE:\\d{3}元"])]})
    assert isinstance(spec, RulesSpec) and spec.rules[0].any == ["RE:\\d{3}元"]


def test_exclude_documents() -> None:
    docs = [{"group": "本单位", "terms": ["化隆二幼"]}, {"group": "演练词", "terms": ["演练"]},
            {"rules": [_rule()]}, {"exclude": ["招聘启事", "@演练词"], "categories": ["安全生产"]}]
    keywords = Keywords.from_documents(docs)
    [spec] = keywords.excludes
    assert isinstance(spec, ExcludeSpec) and spec.exclude == ["招聘启事", "@演练词"] and spec.categories == ["安全生产"]


def test_exclude_problems_are_named() -> None:
    specs = [parse_keywords_document(d) for d in (
        {"group": "本单位", "terms": ["化隆二幼"]}, {"rules": [_rule()]},
        {"exclude": ["@无此组"], "categories": ["安全生产", "无此类别"]},
    )]
    _, problems = collect_keywords(specs)
    assert [(p.doc, p.loc) for p in problems] == [(2, ("exclude", 0)), (2, ("categories", 1))]
    assert "无此组" in problems[0].message and "无此类别" in problems[1].message
    assert [e[0] for e in _errors({"exclude": []})] == [("exclude",)]
    assert [e[1] for e in _errors({"exclude": ["a"], "rules": []})] == ["keywords_document"]


def test_load_keywords_from_a_file_or_a_folder(tmp_path: Path) -> None:
    (tmp_path / "keywords").mkdir()
    (tmp_path / "keywords" / "k.yaml").write_text(DESIGN_EXAMPLE, encoding="utf-8")
    assert load_keywords(tmp_path).rules[0].id == "food-safety"
    assert load_keywords(tmp_path / "keywords").groups["本单位"][0] == "化隆县第二幼儿园"
    assert load_keywords(tmp_path / "keywords" / "k.yaml").rules[0].near == 40
    (tmp_path / "keywords" / "bad.yaml").write_text("rules:\n  - id: x\n    category: c\n    any: ['re:[']\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_keywords(tmp_path)
    assert [(i.line, i.field) for i in info.value.issues] == [(4, "rules[0].any[0]")]


def test_shipped_keywords_load_and_the_demo_has_the_same() -> None:
    repo = Path(__file__).resolve().parents[3]
    keywords = load_keywords(repo / "keywords")
    assert len(keywords.rules) >= 20 and keywords.excludes
    categories = {r.category for r in keywords.rules}
    for wanted in ("安全生产", "环境污染", "扶贫", "煽动抗拒破坏法律实施", "损害国家机关声誉", "谣言", "封建迷信",
                   "淫秽色情", "赌博", "暴力凶杀", "教唆犯罪", "侮辱诽谤", "损害单位声誉", "其他违法内容"):
        assert wanted in categories
    shipped = {p.name: p.read_bytes() for p in (repo / "keywords").glob("*.yaml")}
    demo = {p.name: p.read_bytes() for p in (repo / "crawler" / "demo" / "keywords").glob("*.yaml")}
    assert shipped == demo
