"""Keywords compiled once for matching: normalised term sets, the automaton, the tokenizer.

Compiling is the slow part (jieba loads its dictionary, ~1 s); matching an item then only scans it
with Aho–Corasick and segments small windows. A Ruleset is immutable after ``compile`` and is
swapped whole on a configuration reload.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import ahocorasick
import jieba

from crawler.config.keywords import FIELDS, GROUP_PREFIX, Keywords, RuleSpec
from crawler.match.normalize import normalize

# How strongly jieba prefers a term: 1 = just enough to keep the term whole on its own (jieba's
# suggest_freq against its base dictionary). A small margin keeps names whole next to ambiguous
# neighbours (化隆县二幼|儿园 stays 化隆县二幼), while a real word straddling the term still wins
# (中华|为 is not 华为, 县二幼|儿园 is read 县/二/幼儿园). Larger values trade that away.
TERM_WEIGHT = 3.0


@dataclass(frozen=True)
class CompiledRule:
    """A rule with every group reference resolved to normalised terms."""

    id: str
    category: str
    grade: str
    fields: tuple[str, ...]
    require: tuple[frozenset[str], ...]  # one set per required group: any of its terms
    any: frozenset[str]
    all: tuple[frozenset[str], ...]  # one set per entry: a term, or a group's terms
    exclude: frozenset[str]  # the ``not`` list
    near: int | None

    @property
    def positive(self) -> frozenset[str]:
        return frozenset().union(*self.require, self.any, *self.all)

    @property
    def terms(self) -> frozenset[str]:
        return self.positive | self.exclude


@dataclass(frozen=True, eq=False)
class Ruleset:
    """Everything matching needs, precomputed; pass it to :func:`crawler.match.match_item`."""

    rules: tuple[CompiledRule, ...]
    fields: tuple[str, ...]  # fields any enabled rule looks at, in FIELDS order
    display: Mapping[str, str] = field(repr=False)  # normalised term → as first written in the config
    automaton: ahocorasick.Automaton | None = field(repr=False)  # None when there are no terms at all
    tokenizer: jieba.Tokenizer = field(repr=False)

    @classmethod
    def compile(cls, keywords: Keywords, *, term_weight: float = TERM_WEIGHT) -> Ruleset:
        """Compile the enabled rules; raises ValueError if a rule names an undefined group."""
        groups = {name: [normalize(t) for t in terms] for name, terms in keywords.groups.items()}
        display: dict[str, str] = {}
        for terms in keywords.groups.values():
            for term in terms:
                display.setdefault(normalize(term), term)
        rules = tuple(_compile_rule(rule, groups, display) for rule in keywords.rules if rule.enabled)
        terms = sorted(frozenset().union(*(r.terms for r in rules)))
        fields = tuple(f for f in FIELDS if any(f in r.fields for r in rules))
        return cls(rules, fields, MappingProxyType({t: display[t] for t in terms}),
                   _automaton(terms), _tokenizer(terms, term_weight))

    def scan(self, text: str) -> dict[str, list[tuple[int, int]]]:
        """Every occurrence of every term in normalised ``text``, overlapping ones included."""
        found: dict[str, list[tuple[int, int]]] = {}
        if self.automaton is None or not text:
            return found
        for last, term in self.automaton.iter(text):
            found.setdefault(term, []).append((last + 1 - len(term), last + 1))
        return found


def _resolve(term: str, groups: Mapping[str, list[str]], rule: RuleSpec, display: dict[str, str]) -> frozenset[str]:
    """A term, or every term of a group written ``@name``, normalised."""
    if term.startswith(GROUP_PREFIX):
        return _group(term[len(GROUP_PREFIX):], groups, rule)
    key = normalize(term)
    display.setdefault(key, term)
    return frozenset([key])


def _group(name: str, groups: Mapping[str, list[str]], rule: RuleSpec) -> frozenset[str]:
    if name not in groups:
        raise ValueError(f"规则 {rule.id} 引用了未定义的词组 {name!r} (rule {rule.id!r} names unknown group {name!r})")
    return frozenset(groups[name])


def _compile_rule(rule: RuleSpec, groups: Mapping[str, list[str]], display: dict[str, str]) -> CompiledRule:
    return CompiledRule(
        id=rule.id,
        category=rule.category,
        grade=rule.grade,
        fields=tuple(rule.fields),
        require=tuple(_group(name, groups, rule) for name in rule.require),
        any=frozenset().union(*(_resolve(t, groups, rule, display) for t in rule.any)),
        all=tuple(_resolve(t, groups, rule, display) for t in rule.all),
        exclude=frozenset().union(*(_resolve(t, groups, rule, display) for t in rule.not_)),
        near=rule.near,
    )


def _automaton(terms: list[str]) -> ahocorasick.Automaton | None:
    if not terms:
        return None
    automaton = ahocorasick.Automaton()
    for term in terms:
        automaton.add_word(term, term)
    automaton.make_automaton()
    return automaton


def _tokenizer(terms: list[str], weight: float) -> jieba.Tokenizer:
    """A jieba Tokenizer of our own (the global dictionary is never touched) knowing every term.

    Frequencies are computed against the base dictionary before any term is added, so the result
    does not depend on the order of the terms.
    """
    logging.getLogger("jieba").setLevel(logging.WARNING)  # "Building prefix dict…" at every compile
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    freqs = {term: tokenizer.suggest_freq(term) for term in terms}
    for term, freq in freqs.items():
        tokenizer.add_word(term, max(1, int(freq * weight)))  # never 0: that forces a split globally
    return tokenizer
