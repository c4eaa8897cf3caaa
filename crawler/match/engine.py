"""``match_item``: which rules fire on an item, and why.

Three steps, cheapest first, so most items cost one Aho–Corasick scan and nothing more:

1. fold each field a rule looks at and scan it for every term, gaps squeezed where a term could
   run across them (``scan``: substring candidates);
2. keep the rules whose positive conditions the candidates could satisfy, and confirm only the
   candidates those rules care about as words (jieba on windows, see ``boundaries``); run their
   regex terms, each with a time limit;
3. evaluate those rules on the confirmed occurrences, in the coordinates of the original text.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from crawler.config.keywords import FIELDS
from crawler.match.boundaries import confirm
from crawler.match.patterns import find_all
from crawler.match.ruleset import CompiledRule, Ruleset
from crawler.match.scan import FieldScan, Gapped
from crawler.match.snippet import make_snippet
from crawler.match.squeeze import Squeezed
from crawler.types import Hit, Item, TermMatch

log = logging.getLogger(__name__)

Span = tuple[int, int]
Occurrences = Mapping[str, Mapping[str, list[Span]]]  # field → key → spans in the original text


class Occurrence(NamedTuple):
    field: str
    start: int
    end: int
    term: str  # key (folded term)

    def gap(self, other: Occurrence) -> int:
        """Characters between two occurrences; 0 when they touch or overlap."""
        return max(0, max(self.start, other.start) - min(self.end, other.end))


def _field_texts(item: Item) -> dict[str, str]:
    return {"title": item.title or "", "text": item.text or "", "author": item.author or ""}


def _occurrences(rule: CompiledRule, terms: Iterable[str], found: Occurrences) -> list[Occurrence]:
    """Occurrences of ``terms`` in the rule's fields, outermost only.

    A term nested in a longer term of the same condition (县二幼 inside 化隆县二幼) is one mention,
    not two, so only the longer one is reported.
    """
    wanted = set(terms)
    occ = sorted((Occurrence(f, s, e, term)
                  for f in rule.fields
                  for term, spans in found.get(f, {}).items() if term in wanted
                  for s, e in spans),
                 key=lambda o: (o.field, o.start, -o.end))
    outer: list[Occurrence] = []
    for o in occ:
        if outer and outer[-1].field == o.field and outer[-1].end >= o.end:
            continue  # contained in the previous kept occurrence
        outer.append(o)
    return outer


def evaluate(rule: CompiledRule, found: Occurrences) -> list[Occurrence] | None:
    """The occurrences a firing rule relied on, or None when it does not fire.

    ``not``: no excluded term in the rule's fields. ``require``/``all``/``any``: each condition has an
    occurrence. ``near`` N: some required-group occurrence and some any/all occurrence in the same
    field are at most N characters apart; the rule then relies on those close pairs.
    """
    if _occurrences(rule, rule.exclude, found):
        return None
    conditions = [_occurrences(rule, group, found) for group in rule.require]
    targets = [_occurrences(rule, entry, found) for entry in rule.all]
    if rule.any:
        targets.append(_occurrences(rule, rule.any, found))
    if not all(conditions) or not all(targets):
        return None
    if rule.near is None:
        return [o for occ in (*conditions, *targets) for o in occ]
    near = rule.near
    pairs = [(left, right)
             for left in (o for occ in conditions for o in occ)
             for right in (o for occ in targets for o in occ)
             if left.field == right.field and left.gap(right) <= near]
    if not pairs:
        return None
    relied = {o for pair in pairs for o in pair}
    for occ in (*conditions, *targets):  # each condition is evidenced, even if only far away
        if not relied.intersection(occ):
            relied.add(min(occ, key=lambda o: (FIELDS.index(o.field), o.start)))
    return list(relied)


def _confirmed(scan: FieldScan, wanted: frozenset[str], ruleset: Ruleset) -> tuple[dict[str, list[Span]], set[str]]:
    """The wanted keys' occurrences that are words (or regex matches), and the regexes that timed out."""
    candidates = {key: spans for key, spans in scan.exact.items() if key in wanted}
    words = confirm(scan.text, [span for spans in candidates.values() for span in spans], ruleset.tokenizer,
                    ruleset.display)
    found = {key: kept for key, spans in candidates.items() if (kept := [s for s in spans if s in words])}
    by_window: dict[Squeezed, list[Gapped]] = {}
    for g in scan.gapped:
        if g.key in wanted:
            by_window.setdefault(g.window, []).append(g)
    for window, members in by_window.items():
        words = confirm(window.text, [(g.start, g.end) for g in members], ruleset.tokenizer, ruleset.display)
        for g in members:
            if (g.start, g.end) in words:
                found.setdefault(g.key, []).append(g.original)
    slow: set[str] = set()
    for key in wanted & ruleset.patterns.keys():
        try:
            if spans := find_all(ruleset.patterns[key], scan.text):
                found[key] = spans
        except TimeoutError:
            slow.add(key)
    return found, slow


def match_item(item: Item, ruleset: Ruleset) -> list[Hit]:
    """Every enabled rule that fires on ``item``, in rule order; pure (the ruleset is read-only).

    A rule whose regex term times out on this item is skipped for it, with a warning.
    """
    originals = _field_texts(item)
    scans = {f: FieldScan.of(originals[f], ruleset.automaton, ruleset.pairs, ruleset.reach) for f in ruleset.fields}
    viable = ruleset.viable({f: scan.seen for f, scan in scans.items()})
    if not viable:
        return []
    found: dict[str, dict[str, list[Span]]] = {}
    slow: dict[str, set[str]] = {}
    for f in ruleset.fields:
        wanted = ruleset.wanted(f, viable, scans[f].seen)
        found[f], slow[f] = _confirmed(scans[f], wanted, ruleset) if wanted else ({}, set())
    hits: list[Hit] = []
    for rule in (ruleset.rules[i] for i in viable):
        timed_out = sorted({key for f in rule.fields for key in slow[f] if key in rule.terms})
        if timed_out:
            log.warning("规则 %s 的正则超时，本条跳过该规则 rule %s skipped: regex %s timed out on %s",
                        rule.id, rule.id, ", ".join(timed_out), item.url)
            continue
        relied = evaluate(rule, found)
        if relied is None:
            continue
        ordered = sorted(set(relied), key=lambda o: (FIELDS.index(o.field), o.start, o.end))
        terms = tuple(TermMatch(ruleset.display[o.term], o.field, o.start, o.end) for o in ordered)
        hits.append(Hit(rule.id, rule.category, rule.grade, terms, make_snippet(originals, terms)))
    return hits
