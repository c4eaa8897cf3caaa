"""``match_item``: which rules fire on an item, and why.

Three steps, cheapest first, so most items cost one Aho–Corasick scan and nothing more:

1. scan each field a rule looks at for every term (substring candidates);
2. keep the rules whose positive conditions the candidates could satisfy, and confirm only the
   candidates those rules care about as words (jieba on windows, see ``boundaries``);
3. evaluate those rules on the confirmed occurrences.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

from crawler.config.keywords import FIELDS
from crawler.match.boundaries import confirm
from crawler.match.normalize import normalize
from crawler.match.ruleset import CompiledRule, Ruleset
from crawler.match.snippet import make_snippet
from crawler.types import Hit, Item, TermMatch

Occurrences = Mapping[str, Mapping[str, list[tuple[int, int]]]]  # field → term → spans


class Occurrence(NamedTuple):
    field: str
    start: int
    end: int
    term: str  # normalised

    def gap(self, other: Occurrence) -> int:
        """Characters between two occurrences; 0 when they touch or overlap."""
        return max(0, max(self.start, other.start) - min(self.end, other.end))


def _field_texts(item: Item) -> dict[str, str]:
    return {"title": item.title or "", "text": item.text or "", "author": item.author or ""}


def _could_fire(rule: CompiledRule, candidates: Occurrences) -> bool:
    """The positive conditions hold on unconfirmed candidates (confirmation only removes)."""
    seen: set[str] = set()
    for f in rule.fields:
        seen.update(candidates.get(f, ()))
    return (all(group & seen for group in rule.require)
            and all(entry & seen for entry in rule.all)
            and (not rule.any or bool(rule.any & seen)))


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


def match_item(item: Item, ruleset: Ruleset) -> list[Hit]:
    """Every enabled rule that fires on ``item``, in rule order; pure (the ruleset is read-only)."""
    originals = _field_texts(item)
    texts = {f: normalize(originals[f]) for f in ruleset.fields}
    candidates = {f: ruleset.scan(texts[f]) for f in ruleset.fields}
    viable = [rule for rule in ruleset.rules if _could_fire(rule, candidates)]
    if not viable:
        return []
    found: dict[str, dict[str, list[tuple[int, int]]]] = {}
    for f in ruleset.fields:
        wanted = set().union(*(r.terms for r in viable if f in r.fields))
        spans = {(s, e) for term, occ in candidates[f].items() if term in wanted for s, e in occ}
        words = confirm(texts[f], spans, ruleset.tokenizer)
        found[f] = {term: [span for span in occ if span in words]
                    for term, occ in candidates[f].items() if term in wanted}
    hits: list[Hit] = []
    for rule in viable:
        relied = evaluate(rule, found)
        if relied is None:
            continue
        ordered = sorted(set(relied), key=lambda o: (FIELDS.index(o.field), o.start, o.end))
        terms = tuple(TermMatch(ruleset.display[o.term], o.field, o.start, o.end) for o in ordered)
        hits.append(Hit(rule.id, rule.category, rule.grade, terms, make_snippet(originals, terms)))
    return hits
