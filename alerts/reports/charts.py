"""Charts for the reports: matplotlib with the Agg backend (no display), Chinese in Noto CJK.

The font is looked up in matplotlib's font list (which reads the system's fonts, as fontconfig
does); Debian's ``fonts-noto-cjk`` provides it. Without a CJK font every Chinese character would
be drawn as an empty box, so a missing font is an error that says which package to install.
Each function returns PNG bytes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from functools import lru_cache

import matplotlib

matplotlib.use("Agg")  # before pyplot is ever imported anywhere: no display on a server

from matplotlib import font_manager, rc_context  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

PREFERRED = ("Noto Sans CJK SC", "Noto Serif CJK SC", "Noto Sans CJK TC", "Noto Sans CJK JP",
             "Source Han Sans SC", "WenQuanYi Zen Hei", "SimHei", "Microsoft YaHei")
DPI = 150
WIDTH_IN, HEIGHT_IN = 6.2, 3.0  # fits the 15.6 cm type area of an A4 official document
COLOURS = ("#c0392b", "#2e6da4", "#e09f3e", "#3c8d5a", "#7d5ba6", "#5f6b73", "#b5651d", "#2a9d8f")


class FontMissing(RuntimeError):
    """No font with Chinese glyphs: charts would show boxes instead of characters."""


@lru_cache(maxsize=1)
def cjk_font() -> str:
    """The family name of an installed CJK font."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    for name in PREFERRED:
        if name in installed:
            return name
    raise FontMissing("没有找到中文字体，图表中的汉字会显示为方框；请安装 fonts-noto-cjk（apt-get install "
                      "fonts-noto-cjk） (no CJK font found: install fonts-noto-cjk)")


def _render(draw: object, title: str, height_in: float = HEIGHT_IN) -> bytes:
    with rc_context({"font.family": "sans-serif", "font.sans-serif": [cjk_font(), "DejaVu Sans"],
                     "axes.unicode_minus": False, "font.size": 9}):
        figure = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        draw(axes)  # type: ignore[operator]
        axes.set_title(title, fontsize=11)
        axes.spines[["top", "right"]].set_visible(False)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    return buffer.getvalue()


def bars(title: str, counts: Mapping[str, int], *, ylabel: str = "条数", horizontal: bool | None = None) -> bytes:
    """Counts by category, source or department; long or many labels lie horizontally."""
    labels, values = list(counts) or ["（无）"], list(counts.values()) or [0]
    flat = horizontal if horizontal is not None else (len(labels) > 6 or max(len(str(x)) for x in labels) > 6)

    def draw(axes: object) -> None:
        colours = [COLOURS[i % len(COLOURS)] for i in range(len(labels))]
        if flat:
            shown = axes.barh(labels[::-1], values[::-1], color=colours[::-1])  # type: ignore[attr-defined]
            axes.set_xlabel(ylabel)  # type: ignore[attr-defined]
        else:
            shown = axes.bar(labels, values, color=colours)  # type: ignore[attr-defined]
            axes.set_ylabel(ylabel)  # type: ignore[attr-defined]
        axes.bar_label(shown, padding=2)  # type: ignore[attr-defined]
        axes.margins(x=0.02, y=0.15) if not flat else axes.margins(x=0.15)  # type: ignore[attr-defined]
        axes.locator_params(axis="x" if flat else "y", integer=True)  # type: ignore[attr-defined]

    return _render(draw, title, max(HEIGHT_IN, 0.32 * len(labels) + 1.0) if flat else HEIGHT_IN)


def lines(title: str, x_labels: Sequence[str], series: Mapping[str, Sequence[int]], *,
          ylabel: str = "条数") -> bytes:
    """Trend lines over days or months, one per series (e.g. this month and the last, or per category)."""

    def draw(axes: object) -> None:
        positions = range(len(x_labels))
        for i, (name, values) in enumerate(series.items()):
            axes.plot(list(positions)[:len(values)], list(values), marker="o", markersize=3,  # type: ignore[attr-defined]
                      color=COLOURS[i % len(COLOURS)], label=name, linewidth=1.6)
        step = max(1, len(x_labels) // 12)
        axes.set_xticks(list(positions)[::step], list(x_labels)[::step])  # type: ignore[attr-defined]
        axes.set_ylabel(ylabel)  # type: ignore[attr-defined]
        axes.set_ylim(bottom=0)  # type: ignore[attr-defined]
        axes.locator_params(axis="y", integer=True)  # type: ignore[attr-defined]
        axes.grid(axis="y", alpha=0.3)  # type: ignore[attr-defined]
        if len(series) > 1:
            axes.legend(frameon=False, fontsize=8, ncols=min(4, len(series)))  # type: ignore[attr-defined]

    return _render(draw, title)


def grouped_bars(title: str, groups: Sequence[str], series: Mapping[str, Sequence[int]], *,
                 ylabel: str = "件数") -> bytes:
    """Several counts per group side by side, e.g. per department: dispatched, replied in time, overdue."""

    def draw(axes: object) -> None:
        n = max(1, len(series))
        width = 0.8 / n
        for i, (name, values) in enumerate(series.items()):
            xs = [g + (i - (n - 1) / 2) * width for g in range(len(groups))]
            shown = axes.bar(xs, list(values), width, label=name, color=COLOURS[i % len(COLOURS)])  # type: ignore[attr-defined]
            axes.bar_label(shown, padding=1, fontsize=7)  # type: ignore[attr-defined]
        axes.set_xticks(range(len(groups)), list(groups) or ["（无）"][:len(groups)])  # type: ignore[attr-defined]
        axes.set_ylabel(ylabel)  # type: ignore[attr-defined]
        axes.locator_params(axis="y", integer=True)  # type: ignore[attr-defined]
        axes.margins(y=0.15)  # type: ignore[attr-defined]
        axes.legend(frameon=False, fontsize=8, ncols=min(4, n))  # type: ignore[attr-defined]

    return _render(draw, title)
