"""Keywords compiled once for matching: term keys, the automaton, the tokenizer, an index of rules.

Compiling is the slow part (jieba's dictionary is loaded, ~1 s); matching an item then only scans it
with Aho–Corasick and segments small windows. A Ruleset is immutable after ``compile`` and is
swapped whole on a configuration reload.

A term's *key* is how it is matched: folded (``normalize.fold``) with fillers between Chinese
characters removed (``squeeze.term_key``); a ``re:`` term's key is the term itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

import jieba
import regex

from crawler.config.keywords import (
    FIELDS,
    GROUP_PREFIX,
    REGEX_PREFIX,
    Keywords,
    RuleSpec,
    compile_regex,
    is_regex,
)
from crawler.match.boundaries import WINDOW
from crawler.match.lexicon import Lexicon
from crawler.match.normalize import fold
from crawler.match.scan import TermAutomaton
from crawler.match.squeeze import bigrams, term_key

# How strongly jieba prefers a term: 1 = just enough to keep the term whole on its own (jieba's
# suggest_freq against its base dictionary). A small margin keeps names whole next to ambiguous
# neighbours (化隆县二幼|儿园 stays 化隆县二幼), while a real word straddling the term still wins
# (中华|为 is not 华为, 县二幼|儿园 is read 县/二/幼儿园). Larger values trade that away.
TERM_WEIGHT = 3.0

Seen = Mapping[str, frozenset[str]]  # field → keys the automaton found there


@dataclass(frozen=True)
class CompiledRule:
    """A rule with every group reference resolved to term keys; global exclusions merged into ``exclude``."""

    id: str
    category: str
    grade: str
    fields: tuple[str, ...]
    require: tuple[frozenset[str], ...]  # one set per required group: any of its terms
    any: frozenset[str]
    all: tuple[frozenset[str], ...]  # one set per entry: a term, or a group's terms
    exclude: frozenset[str]  # the ``not`` list and the global exclusions that apply
    near: int | None

    @cached_property
    def positive(self) -> frozenset[str]:
        return frozenset().union(*self.require, self.any, *self.all)

    @cached_property
    def terms(self) -> frozenset[str]:
        return self.positive | self.exclude

    @cached_property
    def regexes(self) -> frozenset[str]:
        return frozenset(k for k in self.terms if is_regex(k))

    @property
    def conditions(self) -> tuple[frozenset[str], ...]:
        """What must each be found for the rule to fire: every group, every ``all`` entry, ``any``."""
        return (*self.require, *self.all, *((self.any,) if self.any else ()))

    def could_fire(self, seen: Seen) -> bool:
        """The positive conditions hold on unconfirmed candidates (confirmation only removes).

        A regex term cannot be known before it runs, so a condition holding one may hold.
        """
        found = frozenset().union(*(seen.get(f, frozenset()) for f in self.fields))
        return all(not condition.isdisjoint(found) or not condition.isdisjoint(self.regexes)
                   for condition in self.conditions)


@dataclass(frozen=True, eq=False)
class Ruleset:
    """Everything matching needs, precomputed; pass it to :func:`crawler.match.match_item`."""

    rules: tuple[CompiledRule, ...]
    fields: tuple[str, ...]  # fields any enabled rule looks at, in FIELDS order
    display: Mapping[str, str] = field(repr=False)  # key → the term as first written in the config
    automaton: TermAutomaton | None = field(repr=False)  # None when there are no plain terms at all
    tokenizer: jieba.Tokenizer = field(repr=False)
    patterns: Mapping[str, regex.Pattern[str]] = field(repr=False)  # regex key → compiled pattern
    pairs: frozenset[str] = field(repr=False)  # adjacent Chinese characters of terms: gaps worth squeezing
    reach: int = field(repr=False)  # squeeze window radius: the longest term plus segmentation context
    anchors: Mapping[str, tuple[int, ...]] = field(repr=False)  # key → rules it is a necessary clue for
    always: tuple[int, ...] = field(repr=False)  # rules with a regex in every condition: no clue
    users: Mapping[str, frozenset[int]] = field(repr=False)  # key → every rule that mentions it

    @classmethod
    def compile(cls, keywords: Keywords, *, term_weight: float = TERM_WEIGHT) -> Ruleset:
        """Compile the enabled rules; raises ValueError if a rule names an undefined group."""
        display: dict[str, str] = {}
        groups = {name: [_key(t, display) for t in terms] for name, terms in keywords.groups.items()}
        excludes = [(_resolve_all(spec.exclude, groups, "exclude", display), frozenset(spec.categories))
                    for spec in keywords.excludes]
        rules = tuple(_compile_rule(rule, groups, display, excludes) for rule in keywords.rules if rule.enabled)
        keys = sorted(frozenset().union(*(r.terms for r in rules)))
        plain = [k for k in keys if not is_regex(k)]
        fields = tuple(f for f in FIELDS if any(f in r.fields for r in rules))
        anchors, always = _index(rules)
        users: dict[str, set[int]] = {}
        for i, rule in enumerate(rules):
            for key in rule.terms:
                users.setdefault(key, set()).add(i)
        return cls(rules, fields, MappingProxyType({k: display[k] for k in keys}),
                   TermAutomaton(plain) if plain else None, _tokenizer(plain, term_weight),
                   MappingProxyType({k: compile_regex(k) for k in keys if is_regex(k)}),
                   frozenset().union(*map(bigrams, plain)), max(map(len, plain), default=0) + WINDOW,
                   MappingProxyType(anchors), always, MappingProxyType({k: frozenset(v) for k, v in users.items()}))

    def viable(self, seen: Seen) -> list[int]:
        """The indices of the rules that could fire given the candidates, in rule order; the index
        means a document mentioning none of a rule's clues costs nothing for that rule."""
        woken = set(self.always).union(*(self.anchors.get(k, ()) for keys in seen.values() for k in keys))
        return [i for i in sorted(woken) if self.rules[i].could_fire(seen)]

    def wanted(self, field_name: str, viable: list[int], seen: frozenset[str]) -> frozenset[str]:
        """The keys worth confirming in a field: seen there and used by a viable rule that looks
        there, plus those rules' regex terms (which the automaton cannot see)."""
        mine = frozenset(i for i in viable if field_name in self.rules[i].fields)
        found = (k for k in seen if not self.users[k].isdisjoint(mine))
        return frozenset(found).union(*(self.rules[i].regexes for i in mine))


def _key(term: str, display: dict[str, str]) -> str:
    key = REGEX_PREFIX + term[len(REGEX_PREFIX):] if is_regex(term) else term_key(fold(term))
    display.setdefault(key, term)
    return key


def _resolve(term: str, groups: Mapping[str, list[str]], rule: str, display: dict[str, str]) -> frozenset[str]:
    """A term's key, or the keys of every term of a group written ``@name``."""
    if term.startswith(GROUP_PREFIX):
        return _group(term[len(GROUP_PREFIX):], groups, rule)
    return frozenset([_key(term, display)])


def _resolve_all(terms: Iterable[str], groups: Mapping[str, list[str]], rule: str,
                 display: dict[str, str]) -> frozenset[str]:
    return frozenset().union(*(_resolve(t, groups, rule, display) for t in terms))


def _group(name: str, groups: Mapping[str, list[str]], rule: str) -> frozenset[str]:
    if name not in groups:
        raise ValueError(f"{rule} 引用了未定义的词组 {name!r} ({rule!r} names unknown group {name!r})")
    return frozenset(groups[name])


def _compile_rule(rule: RuleSpec, groups: Mapping[str, list[str]], display: dict[str, str],
                  excludes: list[tuple[frozenset[str], frozenset[str]]]) -> CompiledRule:
    name = f"规则 rule {rule.id}"
    exclude = _resolve_all(rule.not_, groups, name, display).union(
        *(keys for keys, categories in excludes if not categories or rule.category in categories))
    return CompiledRule(
        id=rule.id,
        category=rule.category,
        grade=rule.grade,
        fields=tuple(rule.fields),
        require=tuple(_group(g, groups, name) for g in rule.require),
        any=_resolve_all(rule.any, groups, name, display),
        all=tuple(_resolve(t, groups, name, display) for t in rule.all),
        exclude=exclude,
        near=rule.near,
    )


def _index(rules: tuple[CompiledRule, ...]) -> tuple[dict[str, tuple[int, ...]], tuple[int, ...]]:
    """For each rule, its smallest condition without a regex: one of those keys must be seen."""
    anchors: dict[str, list[int]] = {}
    always: list[int] = []
    for i, rule in enumerate(rules):
        plain = [c for c in rule.conditions if not any(is_regex(k) for k in c)]
        if not plain:
            always.append(i)
            continue
        for key in min(plain, key=len):
            anchors.setdefault(key, []).append(i)
    return {k: tuple(v) for k, v in anchors.items()}, tuple(always)


def _tokenizer(terms: list[str], weight: float) -> jieba.Tokenizer:
    """A jieba Tokenizer of our own (the global dictionary is never touched) knowing every term;
    a :class:`Lexicon`, which segments as jieba does in a third less memory.

    Frequencies are computed against the base dictionary before any term is added, so the result
    does not depend on the order of the terms.
    """
    tokenizer = Lexicon()
    tokenizer.initialize()
    freqs = {term: tokenizer.suggest_freq(term) for term in terms}
    for term, freq in freqs.items():
        tokenizer.add_word(term, max(1, int(freq * weight)))  # never 0: that forces a split globally
    return tokenizer
