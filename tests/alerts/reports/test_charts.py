"""Charts draw Chinese with a CJK font (no missing glyphs, i.e. no boxes); the PNGs are kept under
test-output/reports/ for a person to look at."""

from __future__ import annotations

import warnings
from pathlib import Path

from alerts.reports import charts

OUT = Path(__file__).resolve().parents[3] / "test-output" / "reports"


def test_chinese_renders_with_a_cjk_font() -> None:
    assert "CJK" in charts.cjk_font()
    OUT.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph … missing from font" when it draws a box
        pngs = {
            "chart-bars.png": charts.bars("本周舆情类别分布", {"安全生产": 3, "损害单位声誉": 2, "谣言": 1}),
            "chart-bars-horizontal.png": charts.bars("本年度舆情来源分布",
                                                     {"化隆新闻网": 5, "化隆新闻 RSS": 3, "信息员报送": 2}, horizontal=True),
            "chart-lines.png": charts.lines("每日舆情走势（本月与上月）", [f"{d}日" for d in range(1, 32)],
                                            {"本月": [d % 4 for d in range(31)], "上月": [d % 3 for d in range(30)]}),
            "chart-departments.png": charts.grouped_bars("各部门处置情况", ["保教处", "后勤处"],
                                                         {"交办": [2, 3], "按时反馈": [1, 1], "超期": [1, 2], "已结案": [2, 1]}),
        }
    for name, png in pngs.items():
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
        (OUT / name).write_bytes(png)


def test_empty_counts_still_draw() -> None:
    assert charts.bars("本日舆情类别分布", {})[:4] == b"\x89PNG"
