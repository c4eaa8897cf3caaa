"""Measured precision: the labelled set through ``yuqing rules test``, and the command's other uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from crawler.cli_rules import rules_app

REPO = Path(__file__).resolve().parents[3]
LABELS = REPO / "tests" / "data" / "labelled" / "texts.yaml"
# measured on the labelled set with its rules (tests/data/labelled/rules/): P 0.948, R 0.958 over
# 305 texts; the floor leaves a small margin so that a rule edit that costs a hit or two shows up
# as a deliberate change of these numbers, not as noise
MIN_PRECISION = 0.93
MIN_RECALL = 0.94


def _app() -> typer.Typer:
    """``yuqing`` mounts the same sub-app as ``rules``; a bare host keeps this test independent."""
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Host."""

    app.add_typer(rules_app, name="rules")
    return app


def _run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(_app(), ["rules", "test", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def measured() -> dict[str, object]:
    code, out, err = _run("--labels", str(LABELS), "--json")
    assert code == 0, err
    return json.loads(out)


def test_precision_and_recall_on_the_labelled_set(measured: dict[str, object]) -> None:
    assert measured["texts"] >= 250
    assert measured["precision"] >= MIN_PRECISION, measured["false_positives"]
    assert measured["recall"] >= MIN_RECALL, measured["false_negatives"]
    assert measured["unknown_rules"] == []


def test_json_lists_every_error_with_its_reason(measured: dict[str, object]) -> None:
    fps, fns = measured["false_positives"], measured["false_negatives"]
    assert len(fps) == measured["fp"] and len(fns) == measured["fn"]
    for error in fps:
        assert error["snippet"] and error["terms"] and error["rule"] in error["fired"]
    for error in fns:
        assert error["rule"] in error["expected"] and error["rule"] not in error["fired"]
    kinds = measured["by_kind"]
    assert {"真实提及", "近似机构", "规避写法", "繁体", "近而不中"} <= set(kinds)
    assert kinds["繁体"]["recall"] == 1.0 and kinds["真实提及"]["recall"] >= 0.95


def test_text_report_and_labelled_file_as_argument() -> None:
    code, out, _ = _run(str(LABELS))  # a labelled set given as the argument is recognised
    assert code == 0
    assert "精确率 precision" in out and "召回率 recall" in out
    assert "误报 false positive" in out and "漏报 false negative" in out


def test_one_text_from_stdin_with_reasons() -> None:
    code, out, _ = _run("-", "--config", str(REPO / "keywords"), "--json", stdin="化 隆 二 幼 的孩子呕吐了")
    assert code == 0
    [hit] = json.loads(out)["hits"]
    assert hit["rule"] == "food-safety" and hit["snippet"].startswith("【化 隆 二 幼】")
    assert [(t["term"], t["start"], t["end"]) for t in hit["terms"]] == [("化隆二幼", 0, 7), ("呕吐", 11, 13)]
    code, out, _ = _run("-", "--config", str(REPO / "keywords"), stdin="今天天气很好")
    assert code == 0 and "没有规则触发" in out


def test_a_text_file_and_an_html_file(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<html><head><title>化隆二幼乱收费</title></head><body><h1>化隆二幼乱收费</h1>"
                    "<p>家长投诉化隆二幼乱收费，每个孩子多交了三百元。</p></body></html>", encoding="utf-8")
    code, out, _ = _run(str(page), "--config", str(REPO / "keywords"), "--json")
    assert code == 0 and {h["rule"] for h in json.loads(out)["hits"]} == {"fees", "complaint"}
    note = tmp_path / "note.txt"
    note.write_text("县二幼门口有家长拉横幅", encoding="utf-8")
    code, out, _ = _run(str(note), "--config", str(REPO / "keywords"))
    assert code == 0 and "gathering-at-us" in out


def test_broken_rules_and_labels_are_reported_by_file_and_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - id: x\n    category: c\n    any: ['re:(']\n", encoding="utf-8")
    code, _, err = _run("-", "--config", str(rules), stdin="x")
    assert code == 1 and f"{rules}:4: rules[0].any[0]" in err
    labels = tmp_path / "labels.yaml"
    labels.write_text("texts:\n  - text: 化隆二幼\n    expekt: []\n", encoding="utf-8")
    code, _, err = _run("--labels", str(labels), "--config", str(REPO / "keywords"))
    assert code == 1 and f"{labels}:3: texts[0].expekt" in err


def test_unknown_expected_rule_is_flagged(tmp_path: Path) -> None:
    labels = tmp_path / "labels.yaml"
    labels.write_text("texts:\n  - {text: 化隆二幼的孩子呕吐, expected: [food-safty]}\n", encoding="utf-8")
    code, out, _ = _run("--labels", str(labels), "--config", str(REPO / "keywords"), "--json")
    result = json.loads(out)
    assert code == 0 and result["unknown_rules"] == ["food-safty"]
    assert result["fp"] == 1 and result["fn"] == 1 and result["precision"] == 0.0
