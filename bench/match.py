"""Matching speed: the engine against plain jieba, over ≥ 20 MB of Chinese text and 10,000 terms.

Run from the repository root::

    .venv/bin/python bench/match.py                 # 20 MB, 10,000 terms, both densities
    .venv/bin/python bench/match.py --mb 5          # a quicker look
    .venv/bin/python bench/match.py --json          # the figures as one JSON object

Text: every line of ≥ 8 Chinese characters (at least half the line) of the pages in
``../shared/fixtures`` (else ``tests/data``), shuffled into documents of 1–6 KB (title + body)
until the total is ``--mb`` megabytes of UTF-8. Some 3 % of documents get an alias of an
institution planted, most of them next to a rule word, so that rules fire as they would on a patrol.

Terms (10,000): every plain term of the shipped ``keywords/``, 300 made-up personal names, 120
institution aliases, and 2–6 character words sampled from jieba's dictionary (seeded). Only
simplified, all-Chinese terms, so that plain jieba on the raw text can find the same things.

Two rulesets over the same terms:

* ``realistic`` — the shape of the shipped rules: 40 institutions (groups of 3 aliases), each with
  rules ``require`` that institution, ``any`` of ~60 words, ``near: 60``; hits are rare.
* ``dense`` — every term in ``any`` of 100 rules without ``require``: every occurrence is a hit.

Times are CPU seconds of this process (``time.process_time``): both sides are single-threaded, and
CPU time does not count the waits of a shared machine, so the ratio is steadier than wall time.

Plain jieba: ``tokenizer.lcut(field, HMM=False)`` with the ruleset's own dictionary (the 10,000
terms added, as the engine has them) and a set lookup of each token, timed over the same fields.
The engine: ``match_item`` over the same documents.

"Same hits", defined comparably: a *term occurrence* is (document, field, start, end, term). Plain
jieba finds the occurrences that are whole tokens. The engine confirms those too, and by design
also a term inside a longer word (呕吐 in 呕吐物), a term spanning several whole tokens, and a term
split by a space or symbol (化 隆 二 幼); these extras are counted by kind. The verdict is "same"
when the engine misses no occurrence plain jieba finds and every extra is one of those kinds; for
the realistic rules the (document, rule) hits are compared too, with the same rules evaluated on
plain jieba's occurrences.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jieba

from crawler.adapters.html import html_to_text
from crawler.config.keywords import Keywords, is_regex, load_keywords
from crawler.fetch import decode_body
from crawler.match import Ruleset, match_item
from crawler.match.engine import evaluate
from crawler.match.normalize import fold
from crawler.types import Item

ROOT = Path(__file__).resolve().parent.parent
_CJK = re.compile("[\u4e00-\u9fff]")
_ALL_CJK = re.compile("^[\u4e00-\u9fff]+$")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉梅文斌宇浩凯鹏晨欣怡子涵梓轩佳琪雨"
PLACES = ["化隆", "循化", "民和", "乐都", "平安", "互助", "门源", "祁连", "海晏", "刚察",
          "同仁", "尖扎", "泽库", "贵德", "共和", "湟源", "湟中", "大通", "城东", "城西"]
KINDS = ["第一中学", "第二中学", "实验小学", "第一幼儿园", "人民医院", "中医院", "卫生院", "职业学校"]


@dataclass(frozen=True)
class Vocabulary:
    shipped: list[str]
    names: list[str]
    institutions: list[list[str]]  # aliases of each institution
    words: list[str]

    @property
    def terms(self) -> list[str]:
        return list(dict.fromkeys([*self.shipped, *self.names, *(a for i in self.institutions for a in i), *self.words]))


def fixture_lines(folder: Path) -> list[str]:
    """Lines of the fixture pages that are mostly Chinese prose, deduplicated, in a stable order."""
    lines: dict[str, None] = {}
    for path in sorted(p for p in folder.rglob("*") if p.suffix in (".html", ".xml")):
        text, _ = decode_body(path.read_bytes(), None)
        for line in html_to_text(text).split("\n"):
            n = len(_CJK.findall(line))
            if n >= 8 and n * 2 >= len(line):
                lines.setdefault(line.strip())
    return list(lines)


def documents(lines: Sequence[str], megabytes: float, rng: random.Random) -> list[tuple[str, str]]:
    """(title, text) pairs of shuffled lines, 1–6 KB each, ``megabytes`` in total."""
    docs: list[tuple[str, str]] = []
    total = 0
    while total < megabytes * 1e6:
        title = rng.choice(lines)[:30]
        body: list[str] = []
        size, goal = 0, rng.randint(1000, 6000)
        while size < goal:
            body.append(rng.choice(lines))
            size += len(body[-1].encode())
        docs.append((title, "\n".join(body)))
        total += len(title.encode()) + size + len(body) - 1
    return docs


def vocabulary(count: int, rng: random.Random) -> Vocabulary:
    keywords = load_keywords(ROOT / "keywords")
    written = [*(t for terms in keywords.groups.values() for t in terms),
               *(t for r in keywords.rules for t in (*r.any, *r.all, *r.not_))]
    shipped = [t for t in dict.fromkeys(written) if _usable(t)]
    names = list(dict.fromkeys(rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2)))
                               for _ in range(330)))[:300]
    institutions = [[p + k, p + "县" + k, p + k[:1] + k[-2:] if len(k) > 3 else p + k[-2:]]
                    for p in PLACES for k in KINDS[:2]]
    taken = set(shipped) | set(names) | {a for i in institutions for a in i}
    dictionary = [line.split(" ", 1)[0] for line in jieba.get_dict_file().read().decode().splitlines()]
    pool = sorted({w for w in dictionary if 2 <= len(w) <= 6 and _usable(w)} - taken)
    need = count - len(taken)
    return Vocabulary(shipped, names, institutions, rng.sample(pool, need))


def _usable(term: str) -> bool:
    """All-Chinese and already folded: plain jieba on the raw text can then find it as written."""
    return not term.startswith("@") and not is_regex(term) and bool(_ALL_CJK.match(term)) and fold(term) == term


def realistic_keywords(vocab: Vocabulary, rng: random.Random) -> tuple[Keywords, dict[str, list[str]]]:
    """Institutions with rules in the shape of keywords/*.yaml; returns the rule words per institution."""
    words = [*vocab.shipped, *vocab.words, *vocab.names]
    rng.shuffle(words)
    docs: list[dict[str, Any]] = [{"group": f"机构{i}", "terms": aliases} for i, aliases in enumerate(vocab.institutions)]
    per = -(-len(words) // len(vocab.institutions))
    rule_words: dict[str, list[str]] = {}
    for i, aliases in enumerate(vocab.institutions):
        mine = words[i * per:(i + 1) * per]
        rule_words[aliases[0]] = mine
        rules = [{"id": f"r{i}-{j}", "category": "bench", "require": f"机构{i}", "any": mine[j:j + 60], "near": 60}
                 for j in range(0, len(mine), 60)]
        docs.append({"rules": rules})
    return Keywords.from_documents(docs), rule_words


def dense_keywords(vocab: Vocabulary) -> Keywords:
    terms = vocab.terms
    per = -(-len(terms) // 100)
    rules = [{"id": f"d{i}", "category": "bench", "any": terms[i * per:(i + 1) * per]} for i in range(100)]
    return Keywords.from_documents([{"rules": rules}])


def plant(docs: list[tuple[str, str]], rule_words: dict[str, list[str]], rng: random.Random) -> list[Item]:
    """Items, ~3 % of them with an institution alias inserted, most within a few characters of a rule word."""
    aliases = list(rule_words)
    items: list[Item] = []
    for n, (title, text) in enumerate(docs):
        if rng.random() < 0.03:
            alias = rng.choice(aliases)
            mention = f"据了解，{alias}"
            if rng.random() < 0.7:
                mention += f"近日{rng.choice(rule_words[alias])}一事引发关注。"
            cut = text.find("\n", rng.randrange(len(text)))
            text = text + "\n" + mention if cut < 0 else text[:cut] + "\n" + mention + text[cut:]
        items.append(Item(url=f"bench://{n}", source_id="bench", title=title, text=text,
                          fetched_at=datetime(2024, 6, 1, tzinfo=timezone.utc)))
    return items


Occ = tuple[int, str, int, int, str]  # document, field, start, end, term


def run_engine(ruleset: Ruleset, items: Sequence[Item]) -> tuple[float, list[list[Any]]]:
    for item in items[:100]:  # warm up: first calls pay for allocations and caches, not for matching
        match_item(item, ruleset)
    start = time.process_time()
    hits = [match_item(item, ruleset) for item in items]
    return time.process_time() - start, hits


def run_jieba(tokenizer: jieba.Tokenizer, terms: frozenset[str], items: Sequence[Item]
              ) -> tuple[float, set[Occ], list[dict[str, array[int]]]]:
    """Plain jieba: segment each field, look every token up; token ends kept for the comparison."""
    found: set[Occ] = set()
    ends: list[dict[str, array[int]]] = []
    start = time.process_time()
    for n, item in enumerate(items):
        mine: dict[str, array[int]] = {}
        for f, text in (("title", item.title), ("text", item.text)):
            pos = 0
            bounds = mine[f] = array("i")
            for token in tokenizer.lcut(text, HMM=False):
                if token in terms:
                    found.add((n, f, pos, pos + len(token), token))
                pos += len(token)
                bounds.append(pos)
        ends.append(mine)
    return time.process_time() - start, found, ends


def engine_occurrences(hits: list[list[Any]]) -> set[Occ]:
    return {(n, m.field, m.start, m.end, m.term) for n, doc in enumerate(hits) for h in doc for m in h.terms}


def classify(extra: Iterable[Occ], items: Sequence[Item], ends: list[dict[str, array[int]]]) -> Counter[str]:
    """Why the engine found an occurrence plain jieba did not (by design, or "other": a fault)."""
    kinds: Counter[str] = Counter()
    for n, f, s, e, term in extra:
        text = getattr(items[n], f)
        bounds = set(ends[n][f]) | {0}
        if text[s:e] != term:
            kinds["split by a space/symbol or folded"] += 1
        elif s in bounds and e in bounds:
            kinds["several whole tokens"] += 1
        elif any(b <= s and e <= nxt and (b, nxt) != (s, e) for b, nxt in zip([0, *ends[n][f]], ends[n][f])):
            kinds["inside a longer word"] += 1
        else:
            kinds["other"] += 1
    return kinds


def rule_hits_from(occurrences: set[Occ], ruleset: Ruleset) -> set[tuple[int, str]]:
    """(document, rule) pairs the same rules give on plain jieba's occurrences."""
    per_doc: dict[int, dict[str, dict[str, list[tuple[int, int]]]]] = {}
    for n, f, s, e, term in occurrences:
        per_doc.setdefault(n, {}).setdefault(f, {}).setdefault(term, []).append((s, e))
    return {(n, rule.id) for n, found in per_doc.items() for rule in ruleset.rules if evaluate(rule, found) is not None}


def report(name: str, ruleset: Ruleset, items: Sequence[Item], megabytes: float,
           jieba_s: float, jieba_found: set[Occ], ends: list[dict[str, array[int]]]) -> dict[str, Any]:
    """Time the engine; compare its (document, rule) hits and, where every occurrence is a hit
    (the dense rules), its term occurrences with plain jieba's."""
    engine_s, hits = run_engine(ruleset, items)
    found = engine_occurrences(hits)
    extra = found - jieba_found
    extras = classify(extra, items, ends)
    engine_pairs = {(n, h.rule_id): h for n, doc in enumerate(hits) for h in doc}
    jieba_pairs = rule_hits_from(jieba_found, ruleset)
    only_engine = [(n, rule) for n, rule in engine_pairs.keys() - jieba_pairs]
    unexplained = [p for p in only_engine
                   if not any((p[0], m.field, m.start, m.end, m.term) in extra for m in engine_pairs[p].terms)]
    missing = len(jieba_found - found) if name == "dense" else 0  # realistic hits hold only relied-on terms
    same = not missing and not extras["other"] and not unexplained and not jieba_pairs - engine_pairs.keys()
    return {
        "rules": name,
        "engine_s": round(engine_s, 2), "engine_mb_s": round(megabytes / engine_s, 2),
        "jieba_s": round(jieba_s, 2), "jieba_mb_s": round(megabytes / jieba_s, 3),
        "ratio": round(jieba_s / engine_s, 1),
        "hits": len(engine_pairs), "hits_per_mb": round(len(engine_pairs) / megabytes, 1),
        "rule_hits_jieba": len(jieba_pairs), "rule_hits_only_engine": len(only_engine),
        "rule_hits_only_engine_unexplained": len(unexplained),
        "rule_hits_only_jieba": len(jieba_pairs - engine_pairs.keys()),
        "occurrences_engine": len(found), "occurrences_per_mb": round(len(found) / megabytes, 1),
        "occurrences_jieba": len(jieba_found), "missed_by_engine": missing, "engine_extra": dict(extras),
        "same": same,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=20.0, help="megabytes of UTF-8 text (default 20)")
    parser.add_argument("--terms", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fixtures", type=Path, default=None, help="default ../shared/fixtures, else tests/data")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    folder = args.fixtures or next(p for p in (ROOT.parent / "shared" / "fixtures", ROOT / "tests" / "data") if p.is_dir())
    vocab = vocabulary(args.terms, rng)
    realistic, rule_words = realistic_keywords(vocab, rng)
    items = plant(documents(fixture_lines(folder), args.mb, rng), rule_words, rng)
    megabytes = sum(len(i.title.encode()) + len(i.text.encode()) for i in items) / 1e6
    log = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr, flush=True))
    log(f"text: {megabytes:.1f} MB in {len(items)} documents from {folder}; terms: {len(vocab.terms)}")
    started = time.perf_counter()
    rulesets = {"realistic": Ruleset.compile(realistic), "dense": Ruleset.compile(dense_keywords(vocab))}
    log(f"compiled both rulesets in {time.perf_counter() - started:.1f} s; plain jieba next (slow) …")
    tokenizer = rulesets["realistic"].tokenizer  # same terms, same dictionary as the engine's
    jieba_s, jieba_found, ends = run_jieba(tokenizer, frozenset(vocab.terms), items)
    rows = [report(name, rs, items, megabytes, jieba_s, jieba_found, ends) for name, rs in rulesets.items()]
    result = {"megabytes": round(megabytes, 2), "documents": len(items), "terms": len(vocab.terms),
              "fixtures": str(folder), "runs": rows}
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
        return 0
    for r in rows:
        print(f"\n== {r['rules']} rules ==")
        print(f"engine       {r['engine_mb_s']:8.2f} MB/s  ({r['engine_s']} s, match_item per document)")
        print(f"plain jieba  {r['jieba_mb_s']:8.3f} MB/s  ({r['jieba_s']} s, lcut HMM=False + set lookup)")
        print(f"ratio        {r['ratio']:8.1f} ×")
        print(f"hits         {r['hits']} (document, rule) = {r['hits_per_mb']} per MB; "
              f"plain jieba + same rules {r['rule_hits_jieba']}; only engine {r['rule_hits_only_engine']} "
              f"(unexplained {r['rule_hits_only_engine_unexplained']}), only jieba {r['rule_hits_only_jieba']}")
        if r["rules"] == "dense":
            print(f"occurrences  engine {r['occurrences_engine']} ({r['occurrences_per_mb']} per MB), "
                  f"plain jieba {r['occurrences_jieba']}, missed by engine {r['missed_by_engine']}")
        print(f"engine extra {r['engine_extra'] or 'none'}")
        print(f"same hits    {'yes' if r['same'] else 'NO'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
