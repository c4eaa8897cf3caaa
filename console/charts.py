"""Server-side SVG charts: no chart library, no CDN, no script — the desk's machines have no internet
and its CSP runs no inline code. Labels are escaped like any other text."""

from __future__ import annotations

from markupsafe import Markup, escape

PALETTE = ("#2f6fb3", "#d9822b", "#3a9b5c", "#c0392b", "#7d5ba6", "#8c6d46", "#d35e9b", "#6b7b8c",
           "#b8a135", "#2a9ca3")
FONT = 'font-family="Noto Sans CJK SC, Microsoft YaHei, sans-serif"'


def _nice_max(value: float) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if value <= step * 4:
            return step * 4
    return int(value) + 1


def stacked_bars(labels: list[str], series: dict[str, list[int]], *, width: int = 760, height: int = 260) -> Markup:
    """One bar per label (day), stacked by series (category or source), with a legend below."""
    left, top, bottom = 40, 12, 40
    legend_rows = -(-len(series) // 4)
    plot_h = height - top - bottom
    total_h = height + legend_rows * 20
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    ymax = _nice_max(max(totals, default=0) or 1)
    slot = (width - left - 10) / max(len(labels), 1)
    bar = max(min(slot * 0.7, 36), 2)
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {total_h}" '
             f'width="100%" role="img" {FONT} font-size="11">')]
    for i in range(5):
        value = ymax * i // 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e7ec"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#6b7785">{value}</text>')
    every = max(1, len(labels) // 12)
    for i, label in enumerate(labels):
        x = left + slot * i + (slot - bar) / 2
        base = top + plot_h
        for s, values in enumerate(series.values()):
            if values[i]:
                h = plot_h * values[i] / ymax
                base -= h
                parts.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                             f'fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(label)} '
                             f'{escape(list(series)[s])}: {values[i]}</title></rect>')
        if i % every == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                         f'fill="#6b7785">{escape(label)}</text>')
    for s, name in enumerate(series):
        lx, ly = left + (s % 4) * 180, height + (s // 4) * 20 - 8
        parts.append(f'<rect x="{lx}" y="{ly - 9}" width="12" height="12" fill="{PALETTE[s % len(PALETTE)]}"/>'
                     f'<text x="{lx + 18}" y="{ly + 1}" fill="#333">{escape(name)}</text>')
    if not series:
        parts.append(f'<text x="{width / 2}" y="{top + plot_h / 2}" text-anchor="middle" fill="#999" '
                     f'font-size="14">所选时间内没有命中</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def hbars(items: list[tuple[str, float, str]], *, width: int = 420, unit: str = "") -> Markup:
    """Horizontal bars: (label, value, colour) per row, the value written at the bar's end."""
    row_h, label_w = 30, 110
    height = max(len(items), 1) * row_h + 8
    vmax = max((v for _, v, _ in items), default=0) or 1
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
             f'width="100%" role="img" {FONT} font-size="12">')]
    for i, (label, value, colour) in enumerate(items):
        y = 4 + i * row_h
        w = (width - label_w - 70) * value / vmax
        shown = f"{value:g}" if isinstance(value, int) or value == int(value) else f"{value:.1f}"
        parts.append(f'<text x="{label_w - 8}" y="{y + 18}" text-anchor="end" fill="#333">{escape(label)}</text>'
                     f'<rect x="{label_w}" y="{y + 4}" width="{max(w, 1):.1f}" height="20" rx="2" fill="{colour}"/>'
                     f'<text x="{label_w + max(w, 1) + 6:.1f}" y="{y + 18}" fill="#333">{shown}{escape(unit)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
