"""The shared Chinese rendering of an alert."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from alerts.notifiers.message import render_subject, render_text
from crawler.types import AlertPayload


def test_subject_names_grade_terms_category_and_title(make_alert: Callable[..., AlertPayload]) -> None:
    assert render_subject(make_alert()) == "【舆情预警·重大】化隆二幼、呕吐 — 安全生产：家长反映化隆二幼多名幼儿午餐后呕吐"
    many = make_alert(matched_terms=("县二幼", "呕吐", "腹泻", "发烧"), title="长" * 100, grade="一般")
    subject = render_subject(many)
    assert subject.startswith("【舆情预警·一般】县二幼、呕吐、腹泻等 — 安全生产：")
    assert subject.endswith("…") and len(subject) < 100
    assert render_subject(make_alert(matched_terms=(), title="")) == "【舆情预警·重大】安全生产：化隆县新闻网"


def test_body_has_every_fact_in_local_time(make_alert: Callable[..., AlertPayload]) -> None:
    text = render_text(make_alert(author="网友\n小王"))
    for line in ["等级：重大（处置时限：2 小时内报告领导", "类别：安全生产", "规则：food-safety",
                 "命中词：化隆二幼、呕吐", "来源：化隆县新闻网（demo-news）",
                 "标题：家长反映化隆二幼多名幼儿午餐后呕吐", "链接：http://127.0.0.1:8080/news/1031.html",
                 "发现时间：2026-11-24 13:07:12（Asia/Shanghai）", "发布时间：2026-11-24 12:42:00（Asia/Shanghai）",
                 "作者：网友 小王", "多名家长反映，化隆二幼大班部分幼儿在午餐后出现呕吐", "告警编号：42"]:
        assert line in text, line


def test_timezone_naive_published_time_and_missing_fields(make_alert: Callable[..., AlertPayload]) -> None:
    text = render_text(make_alert(published_at=datetime(2026, 11, 24, 12, 42), source_name="demo-news", grade="一般"),
                       timezone="UTC")
    assert "发现时间：2026-11-24 05:07:12（UTC）" in text
    assert "发布时间：2026-11-24 12:42\n" in text
    assert "来源：demo-news\n" in text
    assert "24 小时内交办" in text
    assert "作者" not in text
    assert "发布时间" not in render_text(make_alert(published_at=None))
