"""Main-text extraction benchmark: our automatic extractor against trafilatura on labelled pages.

Run from the repository root::

    .venv/bin/python bench/extract.py            # table + summary
    .venv/bin/python bench/extract.py --json     # one JSON object per page, then the summary
    .venv/bin/python bench/extract.py --check    # exit 1 unless ours reaches the aim below

trafilatura is optional (``pip install -e '.[bench]'``); without it only our extractor is scored.

Pages and what they are scored against
--------------------------------------
The fixtures are ``../shared/fixtures`` (next to the repository); a clone without it falls back to
the lean copies in ``tests/data`` (fewer pages).

* ``magic_html`` — news pages with hand-labelled main text (``*.label.json`` ``content``). **Truth.**
* ``discuz`` — a Discuz! X3.3 thread with a hand label (``*.label.json`` ``content``): the label
  is the *whole thread* (subject line, every post, in order), so the extractor's text is scored
  against all posts concatenated, not the first post only. **Truth.**
* ``gne`` — news pages with ``*.gne_output.json``: the output of another extractor
  (GeneralNewsExtractor), never hand-checked. Reported separately as a **reference** (agreement
  with GNE), not counted in the aim.

Titles: ``gne`` pages are compared with GNE's title (again a reference). ``magic_html`` labels have
no title, and neither does the discuz label's JSON, so ``TITLES`` below holds each page's real
headline, read off the page by eye (its ``<h1>``/``og:title``/visible heading, without site
suffixes or tag lists) — see the comments there. A title is "ok" when it equals that headline
after the normalisation below.

Normalisation and the score
---------------------------
Both texts go through ``normalize``: Unicode NFKC (full-width letters/digits and ideographic
spaces fold to their ASCII forms; full-width Chinese punctuation such as ，。“” is unchanged by
NFKC and stays), then every whitespace character is removed (line breaks, spaces, NBSP, U+3000),
because where an extractor puts line breaks is not a content error. The score is the character
F1 over the *multiset* of remaining characters (bag of characters, order ignored — the measure of
the magic-html and GNE evaluations and of ``tests/crawler/adapters/test_html.py``):
``precision = common / len(extracted)``, ``recall = common / len(label)``, F1 their harmonic
mean, ``common`` the size of the multiset intersection. An empty extraction scores 0.

trafilatura settings
--------------------
``trafilatura.extract(html, include_comments=False, …)`` in three modes: balanced (default),
``favor_precision=True`` and ``favor_recall=True``; tables and formatting as default, no
fallback switched off. Its title comes from ``trafilatura.extract_metadata(html).title``.

Time is wall-clock per page for one call, after one warm-up round on the first page: for ours, the
whole ``extract_article`` (title, byline, date and text); for trafilatura, ``extract`` alone (its
``extract_metadata`` call for the title is not timed). Pages are parsed from memory; nothing is
fetched. Times vary from run to run by ±20 %; F1 and titles are deterministic.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crawler.adapters.html import extract_article  # noqa: E402
from crawler.types import FetchResult  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
FALLBACK = ROOT / "tests" / "data"

AIM_MEAN, AIM_MIN = 0.95, 0.80

# Real headlines of the pages whose labels carry no title, checked by eye on the page.
TITLES = {
    # <h1> and og:title; <title> adds "|停车位|停车费|物业管理_网易订阅"
    "163_dy_bb5f5ce0c70b": "租户将车停自家院子要交“资源占用费”？村民打“12345”讨说法",
    # no <h1>/og:title: the heading <div> above the article; <title> adds "-中国科普网"
    "kepu_gov_cn_4e55eac42f97": "习近平主持召开深入推进长三角一体化发展座谈会",
    # <h1><span class="title">, twice on the page (desktop and mobile headers)
    "news_cn_politics_14b709df543c":
        "李强在新疆调研时强调 彰显特色优势 提高开放水平 在高质量发展中增进民生福祉促进长治久安",
    # <h1>; og:title and <title> append the tags "_中国_法国_全球"
    "sohu_e75180020469": "中法经贸合作广度深度不断拓展",
    # #thread_subject; <title> adds " - 建议反馈 - 反恐精英Online-官方论坛 - Powered by Discuz!"
    "magic_html_csolbbs_viewthread_X3.3_38672": "建议对鼠神进行改版",
}

TRAFILATURA_MODES = {
    "balanced": {},
    "precision": {"favor_precision": True},
    "recall": {"favor_recall": True},
}


def normalize(text: str) -> str:
    """NFKC, then no whitespace at all (see the module docstring)."""
    return "".join(c for c in unicodedata.normalize("NFKC", text or "") if not c.isspace())


def char_prf(predicted: str, gold: str) -> tuple[float, float, float]:
    """(precision, recall, F1) over the multiset of normalised characters."""
    p, g = Counter(normalize(predicted)), Counter(normalize(gold))
    common = sum((p & g).values())
    if not common:
        return 0.0, 0.0, 0.0
    precision, recall = common / sum(p.values()), common / sum(g.values())
    return precision, recall, 2 * precision * recall / (precision + recall)


@dataclass
class Page:
    family: str  # magic_html | discuz | gne
    name: str
    html_path: Path
    url: str
    gold_text: str
    gold_title: str | None
    truth: bool  # a hand label (True) or another extractor's output (False)


@dataclass
class Score:
    f1: float
    precision: float
    recall: float
    seconds: float
    title: str | None = None
    title_ok: bool | None = None


@dataclass
class Row:
    page: Page
    ours: Score
    traf: dict[str, Score] = field(default_factory=dict)


def fixtures_dir() -> Path:
    return SHARED if SHARED.is_dir() else FALLBACK


def discover(base: Path) -> list[Page]:
    """Every labelled page under ``base`` (the shared fixtures or ``tests/data``)."""
    pages: list[Page] = []
    seen: set[str] = set()
    for family, folder in (("magic_html", base / "news" / "magic_html"), ("discuz", base / "discuz")):
        for label_path in sorted(folder.glob("*.label.json")):
            name = label_path.name.removesuffix(".label.json")
            if name in seen or not (folder / f"{name}.html").exists():
                continue
            seen.add(name)
            label = json.loads(label_path.read_text("utf-8"))
            pages.append(Page(family, name, folder / f"{name}.html", label.get("url") or "http://example.cn/",
                              label["content"], TITLES.get(name), truth=True))
    gne = base / "news" / "gne"
    for out_path in sorted(gne.glob("*.gne_output.json")):
        name = out_path.name.removesuffix(".gne_output.json")
        out = json.loads(out_path.read_text("utf-8"))
        pages.append(Page("gne", name, gne / f"{name}.html", f"http://{name}.example.cn/article.html",
                          out["content"], out.get("title"), truth=False))
    return [p for p in pages if p.html_path.exists()]


def read_html(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(raw).best()
        return str(best) if best is not None else raw.decode("utf-8", "replace")


def title_ok(found: str | None, gold: str | None) -> bool | None:
    if gold is None:
        return None
    return bool(found) and normalize(found) == normalize(gold)


def timed(fn: Callable[[], str | None]) -> tuple[str, float]:
    start = time.perf_counter()
    value = fn()
    return value or "", time.perf_counter() - start


def run_ours(page: Page, html: str) -> Score:
    result = FetchResult(url=page.url, final_url=page.url, status=200,
                         headers=(("Content-Type", "text/html; charset=utf-8"),), body=html.encode("utf-8"),
                         text=html, encoding="utf-8", fetched_at=datetime.now(timezone.utc), elapsed_ms=0)
    start = time.perf_counter()
    item = extract_article(result, "bench")
    seconds = time.perf_counter() - start
    precision, recall, f1 = char_prf(item.text, page.gold_text)
    return Score(f1, precision, recall, seconds, item.title, title_ok(item.title, page.gold_title))


def run_trafilatura(page: Page, html: str, traf) -> dict[str, Score]:  # noqa: ANN001
    meta = traf.extract_metadata(html)
    found_title = meta.title if meta is not None else None
    scores = {}
    for mode, options in TRAFILATURA_MODES.items():
        text, seconds = timed(lambda: traf.extract(html, url=page.url, include_comments=False, **options))
        precision, recall, f1 = char_prf(text, page.gold_text)
        scores[mode] = Score(f1, precision, recall, seconds, found_title, title_ok(found_title, page.gold_title))
    return scores


def summary(scores: list[Score]) -> dict[str, float]:
    titles = [s.title_ok for s in scores if s.title_ok is not None]
    return {
        "pages": len(scores),
        "mean_f1": statistics.fmean(s.f1 for s in scores),
        "min_f1": min(s.f1 for s in scores),
        "mean_precision": statistics.fmean(s.precision for s in scores),
        "mean_recall": statistics.fmean(s.recall for s in scores),
        "exact_titles": sum(titles) / len(titles) if titles else float("nan"),
        "ms_per_page": 1000 * statistics.fmean(s.seconds for s in scores),
    }


def yes_no(value: bool | None) -> str:
    return "-" if value is None else "yes" if value else "NO"


def print_table(rows: list[Row], modes: list[str]) -> None:
    heads = ["page", "ours F1", "(P/R)"] + [f"traf {m} F1" for m in modes] + ["ours title"]
    heads += ["traf title"] if modes else []
    print("| " + " | ".join(heads) + " |")
    print("|" + "|".join("---" if i == 0 else "--:" for i in range(len(heads))) + "|")
    for row in rows:
        cells = [f"{row.page.family}/{row.page.name}", f"{row.ours.f1:.3f}",
                 f"{row.ours.precision:.3f}/{row.ours.recall:.3f}"]
        cells += [f"{row.traf[m].f1:.3f}" for m in modes]
        cells += [yes_no(row.ours.title_ok)] + ([yes_no(row.traf[modes[0]].title_ok)] if modes else [])
        print("| " + " | ".join(cells) + " |")


def print_summary(label: str, rows: list[Row], modes: list[str]) -> None:
    if not rows:
        return
    print(f"\n{label} ({len(rows)} pages)")
    print("| extractor | mean F1 | min F1 | mean P | mean R | exact titles | ms/page |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    named = [("ours", [r.ours for r in rows])] + [(f"trafilatura {m}", [r.traf[m] for r in rows]) for m in modes]
    for name, scores in named:
        s = summary(scores)
        print(f"| {name} | {s['mean_f1']:.3f} | {s['min_f1']:.3f} | {s['mean_precision']:.3f} | "
              f"{s['mean_recall']:.3f} | {s['exact_titles']:.0%} | {s['ms_per_page']:.1f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixtures", type=Path, default=None, help="fixture folder (default: ../shared/fixtures)")
    parser.add_argument("--json", action="store_true", help="one JSON object per page, then the summaries")
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 unless ours reaches mean F1 >= {AIM_MEAN} and min >= {AIM_MIN} on hand labels")
    parser.add_argument("--no-trafilatura", action="store_true", help="score our extractor only")
    args = parser.parse_args(argv)

    base = args.fixtures or fixtures_dir()
    traf = None
    if not args.no_trafilatura:
        try:
            import trafilatura as traf  # noqa: PLC0415
        except ImportError:
            print("trafilatura not installed (pip install -e '.[bench]'): scoring ours only", file=sys.stderr)
    modes = list(TRAFILATURA_MODES) if traf is not None else []

    pages = discover(base)
    if not pages:
        print(f"no labelled pages under {base}", file=sys.stderr)
        return 2
    # Warm up both (imports, compiled patterns, lxml's first parse) so the first page's time is fair.
    first = read_html(pages[0].html_path)
    run_ours(pages[0], first)
    if traf is not None:
        run_trafilatura(pages[0], first, traf)
    rows: list[Row] = []
    for page in pages:
        html = read_html(page.html_path)
        row = Row(page, run_ours(page, html), run_trafilatura(page, html, traf) if traf is not None else {})
        rows.append(row)
        if args.json:
            print(json.dumps({"family": page.family, "page": page.name, "truth": page.truth,
                              "ours": vars(row.ours), **{f"trafilatura_{m}": vars(s) for m, s in row.traf.items()}},
                             ensure_ascii=False))

    print(f"fixtures: {base}" + (f"; trafilatura {traf.__version__}" if traf is not None else ""))
    truth = [r for r in rows if r.page.truth]
    reference = [r for r in rows if not r.page.truth]
    if not args.json:
        print("\nHand labels (magic_html, discuz: whole thread)")
        print_table(truth, modes)
    print_summary("Hand labels, all", truth, modes)
    for family in sorted({r.page.family for r in truth}):
        print_summary(f"Hand labels, {family}", [r for r in truth if r.page.family == family], modes)
    if reference:
        if not args.json:
            print("\nReference: agreement with GeneralNewsExtractor's output (not truth)")
            print_table(reference, modes)
        print_summary("GNE reference", reference, modes)

    if truth:
        s = summary([r.ours for r in truth])
        met = s["mean_f1"] >= AIM_MEAN and s["min_f1"] >= AIM_MIN
        print(f"\naim (hand labels): mean F1 >= {AIM_MEAN}, min >= {AIM_MIN}: "
              f"ours mean {s['mean_f1']:.3f}, min {s['min_f1']:.3f} -> {'met' if met else 'NOT met'}")
        if args.check and not met:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
