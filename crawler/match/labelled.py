"""Precision and recall of a ruleset on a labelled set of texts (``yuqing rules test --labels``).

A labelled set is a YAML file::

    rules: rules/                # optional: the keywords folder or file it was labelled against
    texts:
      - id: mention-1            # optional; defaults to the line number
        kind: 真实提及            # optional: groups the figures (真实提及, 近似词, 规避写法 …)
        title: 标题               # optional, like author
        text: 化隆二幼多名幼儿呕吐
        expect: [food-safety]    # the rule ids that must fire; [] or omitted: none may fire

Scoring is over (text, rule) pairs: a rule that fires and is expected is a true positive, one
that fires unexpectedly a false positive, an expected one that does not fire a false negative.
Precision = TP / (TP + FP), recall = TP / (TP + FN), F1 their harmonic mean (1.0 when the
denominator is empty: nothing claimed, nothing missed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from crawler.config.yamlfile import (
    ConfigError,
    ConfigIssue,
    issues_from_validation,
    load_documents,
)
from crawler.match.engine import match_item
from crawler.match.ruleset import Ruleset
from crawler.types import Hit, Item


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else [] if value is None else value


class LabelledText(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True, populate_by_name=True)

    id: str | None = None
    kind: str = "未分类"
    note: str | None = None
    title: str = ""
    text: str = ""
    author: str | None = None
    expect: Annotated[list[str], BeforeValidator(_as_list)] = Field(default_factory=list, alias="expected")
    line: int = Field(default=0, exclude=True)

    @property
    def name(self) -> str:
        return self.id or f"line {self.line}"

    def item(self) -> Item:
        return Item(url=f"labelled:{self.name}", source_id="labelled", title=self.title, text=self.text,
                    fetched_at=datetime(2024, 1, 1, tzinfo=timezone.utc), author=self.author)


class LabelledSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: str | None = None
    texts: list[LabelledText] = Field(min_length=1)


def load_labelled(path: Path) -> tuple[LabelledSet, Path | None]:
    """The set and the rules it names (resolved against the file's folder); ``ConfigError`` with
    ``file:line: field: message`` for anything malformed."""
    docs = load_documents(path)
    if len(docs) != 1 or not isinstance(docs[0].data, dict):
        raise ConfigError([ConfigIssue(str(path), None, "", "应为一个 YAML 映射 {texts: [...]} expected one mapping with texts")])
    doc = docs[0]
    texts = doc.data.get("texts")
    if isinstance(texts, list):  # each text remembers its line, for messages and as a default id
        doc.data["texts"] = [{**t, "line": doc.line_of(("texts", i))} if isinstance(t, dict) else t
                             for i, t in enumerate(texts)]
    try:
        labelled = LabelledSet.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigError(issues_from_validation(doc, exc)) from None
    return labelled, (path.parent / labelled.rules if labelled.rules else None)


def is_labelled_file(path: Path) -> bool:
    """Whether a file given to ``rules test`` is a labelled set rather than a text to try."""
    if path.suffix.lower() not in (".yaml", ".yml") or not path.is_file():
        return False
    try:
        docs = load_documents(path)
    except ConfigError:
        return False
    return len(docs) == 1 and isinstance(docs[0].data, dict) and "texts" in docs[0].data


@dataclass(frozen=True)
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Score) -> Score:
        return Score(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "precision": round(self.precision, 4),
                "recall": round(self.recall, 4), "f1": round(self.f1, 4)}


@dataclass(frozen=True)
class Outcome:
    """One labelled text: what fired, against what was expected."""

    text: LabelledText
    hits: tuple[Hit, ...]

    @property
    def fired(self) -> set[str]:
        return {h.rule_id for h in self.hits}

    @property
    def score(self) -> Score:
        expected = set(self.text.expect)
        return Score(len(self.fired & expected), len(self.fired - expected), len(expected - self.fired))


@dataclass(frozen=True)
class Evaluation:
    outcomes: tuple[Outcome, ...]
    unknown_rules: tuple[str, ...]  # expected ids the ruleset does not have (typos, disabled rules)

    @property
    def score(self) -> Score:
        return sum((o.score for o in self.outcomes), Score())

    def by_kind(self) -> dict[str, Score]:
        kinds: dict[str, Score] = {}
        for o in self.outcomes:
            kinds[o.text.kind] = kinds.get(o.text.kind, Score()) + o.score
        return kinds

    def errors(self) -> list[dict[str, Any]]:
        """Every false positive and false negative, with the reasons of the hits involved."""
        out: list[dict[str, Any]] = []
        for o in self.outcomes:
            expected = set(o.text.expect)
            for hit in o.hits:
                if hit.rule_id not in expected:
                    out.append(_error("false_positive", o, hit.rule_id, hit))
            out.extend(_error("false_negative", o, rule, None) for rule in sorted(expected - o.fired))
        return out

    def as_dict(self) -> dict[str, Any]:
        errors = self.errors()
        return {
            "texts": len(self.outcomes), **self.score.as_dict(),
            "by_kind": {kind: score.as_dict() for kind, score in sorted(self.by_kind().items())},
            "unknown_rules": list(self.unknown_rules),
            "false_positives": [e for e in errors if e["error"] == "false_positive"],
            "false_negatives": [e for e in errors if e["error"] == "false_negative"],
        }


def _error(kind: str, outcome: Outcome, rule: str, hit: Hit | None) -> dict[str, Any]:
    t = outcome.text
    return {"error": kind, "id": t.name, "kind": t.kind, "rule": rule, "title": t.title, "text": t.text,
            "expected": sorted(t.expect), "fired": sorted(outcome.fired), "note": t.note,
            "snippet": hit.snippet if hit else None,
            "terms": [{"term": m.term, "field": m.field, "start": m.start, "end": m.end} for m in hit.terms] if hit else []}


def score_labelled(texts: Iterable[LabelledText], ruleset: Ruleset) -> Evaluation:
    texts = list(texts)
    known = {r.id for r in ruleset.rules}
    unknown = sorted({rule for t in texts for rule in t.expect} - known)
    return Evaluation(tuple(Outcome(t, tuple(match_item(t.item(), ruleset))) for t in texts), tuple(unknown))
