"""``yuqing rules``: try the keyword rules before relying on them.

``rules test`` does one of two things:

* with ``--labels FILE`` (or a labelled YAML file as the argument): runs the labelled set through
  the engine and prints precision, recall, F1 and every false positive and negative;
* with a text source — a file, ``-`` for standard input, or an http(s) URL (fetched and reduced to
  its article text like a news source) — prints which rules fire, with their reasons.

The rules are those of ``--config`` (a keywords file, a folder of them, or a configuration folder
with ``keywords/``); without it, the folder given to ``yuqing --config``, else the ``rules:`` a
labelled set names, else the current folder.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import typer

from crawler.config.keywords import load_keywords
from crawler.config.yamlfile import ConfigError
from crawler.match import Ruleset, match_item
from crawler.match.labelled import (
    Evaluation,
    is_labelled_file,
    load_labelled,
    score_labelled,
)
from crawler.types import Hit, Item

rules_app = typer.Typer(help="关键词规则：试运行与标注集评估 try rules on texts and labelled sets", no_args_is_help=True)

DEFAULT_LABELS = Path("tests/data/labelled/texts.yaml")


def _failure(issues: list[Any], what: str) -> typer.Exit:
    """Print the issues as plain ``file:line`` lines (as ``yuqing check`` does); the exit to raise."""
    for issue in issues:
        typer.echo(str(issue), err=True)
    typer.echo(f"{what}有 {len(issues)} 处错误 ({len(issues)} error(s))", err=True)
    return typer.Exit(1)


def _rules_path(ctx: typer.Context, config: Path | None, named_by_labels: Path | None) -> Path:
    """--config here, else ``yuqing --config`` when given explicitly, else the labels' rules, else ``.``."""
    if config is not None:
        return config
    given = ctx.find_root().get_parameter_source("config")  # None when there is no root --config
    if given is not None and given.name != "DEFAULT" and ctx.obj is not None:
        return Path(ctx.obj.config)
    return named_by_labels or Path(".")


def _ruleset(path: Path) -> Ruleset:
    try:
        return Ruleset.compile(load_keywords(path))
    except ConfigError as exc:
        raise _failure(exc.issues, "规则配置") from None


def _hit_dict(hit: Hit) -> dict[str, Any]:
    return {"rule": hit.rule_id, "category": hit.category, "grade": hit.grade, "snippet": hit.snippet,
            "terms": [{"term": m.term, "field": m.field, "start": m.start, "end": m.end} for m in hit.terms]}


def _print_evaluation(evaluation: Evaluation) -> None:
    score = evaluation.score
    typer.echo(f"标注文本 texts: {len(evaluation.outcomes)}   TP {score.tp}  FP {score.fp}  FN {score.fn}")
    typer.echo(f"精确率 precision {score.precision:.3f}   召回率 recall {score.recall:.3f}   F1 {score.f1:.3f}")
    typer.echo("\n按类型 by kind:")
    for kind, s in sorted(evaluation.by_kind().items()):
        typer.echo(f"  {kind:<10} TP {s.tp:>3}  FP {s.fp:>3}  FN {s.fn:>3}   P {s.precision:.3f}  R {s.recall:.3f}")
    if evaluation.unknown_rules:
        typer.echo(f"\n警告 warning: 标注里的规则不在规则集中 expected rules not in the ruleset: "
                   f"{', '.join(evaluation.unknown_rules)}", err=True)
    for error in evaluation.errors():
        label = "误报 false positive" if error["error"] == "false_positive" else "漏报 false negative"
        typer.echo(f"\n{label}: {error['rule']}   [{error['id']}, {error['kind']}]")
        typer.echo(f"  文本 text: {(error['title'] + ' | ' if error['title'] else '')}{error['text'][:120]}")
        typer.echo(f"  期望 expected: {error['expected'] or '无'}   触发 fired: {error['fired'] or '无'}")
        if error["snippet"]:
            typer.echo(f"  原因 reason: {error['snippet']}  ({', '.join(t['term'] for t in error['terms'])})")


def _item(source: str, title: str) -> Item:
    """The text to try: standard input, a URL's article, an HTML file's article, or a text file."""
    now = datetime.now(timezone.utc)
    if source == "-":
        return Item(url="stdin:", source_id="rules-test", title=title, text=sys.stdin.read(), fetched_at=now)
    if source.startswith(("http://", "https://")):
        return _fetch_article(source)
    path = Path(source)
    if not path.is_file():
        typer.echo(f"找不到文件 no such file: {source}", err=True)
        raise typer.Exit(2)
    raw = path.read_bytes()
    if path.suffix.lower() in (".html", ".htm"):
        from crawler.adapters.html import extract_article
        from crawler.fetch import decode_body
        from crawler.types import FetchResult

        text, encoding = decode_body(raw, None)
        page = FetchResult(path.resolve().as_uri(), path.resolve().as_uri(), 200, (), raw, text, encoding, now, 0)
        return extract_article(page, "rules-test")
    return Item(url=path.resolve().as_uri(), source_id="rules-test", title=title,
                text=raw.decode("utf-8-sig", errors="replace"), fetched_at=now)


def _fetch_article(url: str) -> Item:
    """Fetch like a source would (robots.txt, limits, the private-network guard) and extract the article."""
    from crawler.adapters.html import extract_article
    from crawler.fetch import Fetcher
    from crawler.types import FetchError, FetchPolicy

    async def fetch() -> Any:
        async with Fetcher() as fetcher:
            return await fetcher.fetch(url, FetchPolicy())

    try:
        return extract_article(asyncio.run(fetch()), "rules-test")
    except FetchError as exc:
        typer.echo(f"抓取失败 fetch failed: {exc}", err=True)
        raise typer.Exit(1) from None


@rules_app.command("test")
def test(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Argument(
        help="要试的文本：文件、- (标准输入) 或 http(s) 网址；或一个标注集 YAML (texts: …)")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", "--rules", "-c", help="规则：关键词文件、关键词目录或含 keywords/ 的配置目录")] = None,
    labels: Annotated[Path | None, typer.Option(
        "--labels", "-l", help=f"标注集 YAML，计算精确率/召回率（无参数时默认 {DEFAULT_LABELS}）")] = None,
    title: Annotated[str, typer.Option("--title", help="文本的标题（文件、标准输入时）")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """试运行规则：对一段文本显示触发的规则和原因；对标注集计算精确率、召回率、F1 并列出误报漏报。"""
    if labels is None and source is not None and is_labelled_file(Path(source)):
        labels, source = Path(source), None
    if labels is None and source is None:
        labels = DEFAULT_LABELS
    if labels is not None:
        try:
            labelled, named = load_labelled(labels)
        except ConfigError as exc:
            raise _failure(exc.issues, "标注集") from None
        evaluation = score_labelled(labelled.texts, _ruleset(_rules_path(ctx, config, named)))
        if as_json:
            typer.echo(json.dumps(evaluation.as_dict(), ensure_ascii=False, indent=1))
        else:
            _print_evaluation(evaluation)
        return
    assert source is not None
    ruleset = _ruleset(_rules_path(ctx, config, None))
    item = _item(source, title)
    hits = match_item(item, ruleset)
    if as_json:
        typer.echo(json.dumps({"url": item.url, "title": item.title, "hits": [_hit_dict(h) for h in hits]},
                              ensure_ascii=False, indent=1))
        return
    if not hits:
        typer.echo("没有规则触发 no rule fires")
    for hit in hits:
        typer.echo(f"{hit.rule_id}  [{hit.category}/{hit.grade}]  {hit.snippet}")
        typer.echo("    " + "; ".join(f"{m.term} @{m.field}[{m.start}:{m.end}]" for m in hit.terms))


@rules_app.command("backtest")
def backtest(
    ctx: typer.Context,
    since: Annotated[str, typer.Option("--since", help="回看多久，例如 30d、12h")] = "30d",
    config: Annotated[Path | None, typer.Option("--config", help="要试的规则（keywords 目录或文件）")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """用当前规则重跑最近抓到的内容，列出会新增和会消失的命中（不改数据库、不发告警）。"""
    from datetime import timedelta

    from crawler.config.sources import positive_seconds
    from storage import db, queries

    try:
        window = timedelta(seconds=positive_seconds(since))
    except ValueError as exc:
        typer.echo(f"--since: {exc}", err=True)
        raise typer.Exit(2) from None
    ruleset = _ruleset(_rules_path(ctx, config, None))
    start = datetime.now(timezone.utc) - window
    stored = asyncio.run(db.run_once(ctx.obj.db_url, lambda session: queries.items_since(session, start)))
    changes = []
    for item, before in stored:
        after = sorted({hit.rule_id for hit in match_item(item, ruleset)})
        gained, lost = sorted(set(after) - set(before)), sorted(set(before) - set(after))
        if gained or lost:
            changes.append({"url": item.url, "title": item.title, "source": item.source_id, "new": gained, "gone": lost})
    summary = {"items": len(stored), "changed": len(changes),
               "new_hits": sum(len(c["new"]) for c in changes), "gone_hits": sum(len(c["gone"]) for c in changes)}
    if as_json:
        typer.echo(json.dumps({"summary": summary, "changes": changes}, ensure_ascii=False, indent=2))
        return
    typer.echo(f"回看 {since}：{summary['items']} 条内容，{summary['changed']} 条结果会变："
               f"新增命中 {summary['new_hits']}，消失命中 {summary['gone_hits']}")
    for change in changes:
        marks = [f"+{r}" for r in change["new"]] + [f"-{r}" for r in change["gone"]]
        typer.echo(f"  {' '.join(marks)}  {change['title']}  {change['url']}")
