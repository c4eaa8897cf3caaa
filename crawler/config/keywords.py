"""The models of ``keywords/*.yaml``: groups of names and the rules that combine them.

Each YAML document of a keywords file is either a group ``{group: 本单位, terms: [...]}`` or a
list of rules ``{rules: [...]}``. Misspelt keys are errors (``extra="forbid"``), never dropped.

How errors are reported, in two stages:

* one document at a time, :func:`parse_keywords_document` raises pydantic's ``ValidationError``
  (a ``ValueError``); each error's ``loc`` is a path into the document such as
  ``("rules", 0, "grade")``, which ``yamlfile.issues_from_validation`` turns into ``file:line``;
* across documents and files, :func:`collect_keywords` *returns* a list of
  :class:`KeywordProblem` (document index, loc, message) for what one document cannot know:
  duplicate group names, duplicate rule ids, references to unknown groups.
  :func:`assemble_keywords` is the same for the config loader, returning ``ConfigIssue``\\ s, and
  :meth:`Keywords.from_documents` is the one-call form that raises ``ValueError`` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from crawler.config.yamlfile import ConfigIssue, Document, Loc, format_loc

GROUP_PREFIX = "@"  # in any/all/not, ``@本单位`` stands for every term of the group 本单位
FIELDS = ("title", "text", "author")

Term = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
GroupName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^@\s][^\s]*$")
]
Grade = Literal["一般", "重大"]
FieldName = Literal["title", "text", "author"]


def _as_list(value: object) -> object:
    """``require: 本单位`` is shorthand for ``require: [本单位]``; ``@本单位`` is accepted too."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        return [v.strip().removeprefix(GROUP_PREFIX) if isinstance(v, str) else v for v in value]
    return value


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


class _Strict(BaseModel):
    # numbers become strings so that a hotline ``12345`` can be written without quotes
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, coerce_numbers_to_str=True, frozen=True)


class GroupSpec(_Strict):
    """A named set of equivalent terms: the full name, short names and aliases of one thing."""

    group: GroupName
    terms: list[Term] = Field(min_length=1)

    @field_validator("terms")
    @classmethod
    def _dedupe(cls, value: list[str]) -> list[str]:
        return _unique(value)


class RuleSpec(_Strict):
    """One rule: which groups must be mentioned, with which words, how close, and how serious."""

    id: str = Field(pattern=r"^\S{1,64}$", description="唯一的规则 id")
    category: str = Field(min_length=1, max_length=64, description="舆情类别，例如 安全生产")
    description: str | None = None
    require: Annotated[list[GroupName], BeforeValidator(_as_list)] = Field(default_factory=list)
    any: list[Term] = Field(default_factory=list, description="任一词出现即可；@词组 代表该组所有词")
    all: list[Term] = Field(default_factory=list, description="每一项都要出现；@词组 代表该组任一词")
    not_: list[Term] = Field(default_factory=list, alias="not", description="任一出现则规则不触发")
    near: StrictInt | None = Field(default=None, ge=1, description="require 与 any/all 之间的最大字符数")
    fields: list[FieldName] = Field(default_factory=lambda: ["title", "text"], min_length=1)
    grade: Grade = "一般"
    enabled: bool = True

    @field_validator("require", "any", "all", "not_", "fields")
    @classmethod
    def _dedupe(cls, value: list[str]) -> list[str]:
        return _unique(value)

    @model_validator(mode="after")
    def _coherent(self) -> RuleSpec:
        if not (self.require or self.any or self.all):
            raise ValueError("规则至少需要 require、any、all 之一 (a rule needs at least one of require/any/all)")
        if self.near is not None and not self.require:
            raise ValueError("near 需要 require：距离是从词组到 any/all 词计算的 (near measures from a require group)")
        if self.near is not None and not (self.any or self.all):
            raise ValueError("near 需要 any 或 all：距离是从词组到 any/all 词计算的 (near needs any or all terms)")
        clash = [t for t in (*self.any, *self.all) if t in self.not_]
        if clash:
            raise ValueError(f"{'、'.join(clash)} 同时出现在 any/all 和 not 中，规则永远不会触发 (term in both any/all and not)")
        return self

    def group_references(self) -> list[tuple[Loc, str]]:
        """Every group this rule names, with the loc of the name: require entries and ``@`` terms."""
        refs: list[tuple[Loc, str]] = [(("require", i), name) for i, name in enumerate(self.require)]
        for key, terms in (("any", self.any), ("all", self.all), ("not", self.not_)):
            refs += [((key, i), t[len(GROUP_PREFIX):]) for i, t in enumerate(terms) if t.startswith(GROUP_PREFIX)]
        return refs


class RulesSpec(_Strict):
    """A document holding rules."""

    rules: list[RuleSpec] = Field(min_length=1)


KeywordsDocument = GroupSpec | RulesSpec


def _document_kind(data: object) -> type[GroupSpec] | type[RulesSpec]:
    """The model a document is meant to be, judged by its keys so that errors speak of that model."""
    if isinstance(data, Mapping):
        has_rules = "rules" in data
        has_group = "group" in data or "terms" in data
        if has_rules and not has_group:
            return RulesSpec
        if has_group and not has_rules:
            return GroupSpec
        if has_rules and has_group:
            raise ValidationError.from_exception_data("keywords document", [{
                "type": PydanticCustomError(
                    "keywords_document", "一个文档只能是词组 (group/terms) 或规则 (rules) 之一，请用 --- 分开"
                    " (a document is either a group or rules, not both; separate them with ---)"),
                "loc": (), "input": data}])
    raise ValidationError.from_exception_data("keywords document", [{
        "type": PydanticCustomError(
            "keywords_document", "应为词组 {group, terms} 或规则 {rules: [...]} (expected a group or a rules document)"),
        "loc": (), "input": data}])


def parse_keywords_document(data: object) -> GroupSpec | RulesSpec:
    """One YAML document → GroupSpec or RulesSpec, discriminated by its keys.

    Raises ``ValidationError`` whose locs are paths inside the document, e.g. ``("rules", 0, "grade")``:
    dispatching on the keys ourselves (rather than through a tagged union) keeps the union tag out
    of the loc, so it maps straight onto a line of the file.
    """
    return _document_kind(data).model_validate(data)


@dataclass(frozen=True)
class Keywords:
    """Every group and rule of a configuration, merged across files and documents."""

    groups: dict[str, list[str]] = field(default_factory=dict)
    rules: list[RuleSpec] = field(default_factory=list)

    @property
    def enabled_rules(self) -> list[RuleSpec]:
        return [r for r in self.rules if r.enabled]

    @classmethod
    def from_documents(cls, documents: Iterable[object]) -> Keywords:
        """Parse and assemble plain documents; raises ``ValueError`` listing every problem.

        Per-document errors propagate as pydantic's ``ValidationError`` (itself a ``ValueError``);
        cross-document problems as :class:`KeywordsError`.
        """
        keywords, problems = collect_keywords([parse_keywords_document(d) for d in documents])
        if problems:
            raise KeywordsError(problems)
        return keywords


@dataclass(frozen=True)
class KeywordProblem:
    """A problem only visible across documents; ``doc`` is the index into the documents given."""

    doc: int
    loc: Loc
    message: str

    def __str__(self) -> str:
        return f"document {self.doc + 1}: {format_loc(self.loc)}: {self.message}"


class KeywordsError(ValueError):
    """The documents are each valid but do not fit together."""

    def __init__(self, problems: Sequence[KeywordProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = list(problems)


def _default_where(doc: int, loc: Loc) -> str:
    return f"document {doc + 1} {format_loc(loc)}"


def collect_keywords(
    specs: Sequence[GroupSpec | RulesSpec], where: Callable[[int, Loc], str] = _default_where
) -> tuple[Keywords, list[KeywordProblem]]:
    """Merge documents into one Keywords and list what does not fit; pure, never raises.

    Problems: a group defined twice, a rule id used twice, a rule naming a group nobody defined.
    ``where`` describes an earlier definition in duplicate messages (the loader passes file:line).
    The Keywords is returned even with problems, but must not be used then.
    """
    problems: list[KeywordProblem] = []
    groups: dict[str, list[str]] = {}
    group_at: dict[str, tuple[int, Loc]] = {}
    for d, spec in enumerate(specs):
        if isinstance(spec, GroupSpec):
            if spec.group in groups:
                first = where(*group_at[spec.group])
                problems.append(KeywordProblem(d, ("group",), f"重复的词组 duplicate group {spec.group!r} (first at {first})"))
                continue
            groups[spec.group] = list(spec.terms)
            group_at[spec.group] = (d, ("group",))
    rules: list[RuleSpec] = []
    rule_at: dict[str, tuple[int, Loc]] = {}
    for d, spec in enumerate(specs):
        if not isinstance(spec, RulesSpec):
            continue
        for i, rule in enumerate(spec.rules):
            for loc, name in rule.group_references():
                if name not in groups:
                    known = "、".join(groups) or "无 none"
                    problems.append(KeywordProblem(d, ("rules", i, *loc), (
                        f"规则 {rule.id} 引用了未定义的词组 {name!r} (rule {rule.id!r} names unknown group {name!r};"
                        f" known groups: {known})")))
            if rule.id in rule_at:
                first = where(*rule_at[rule.id])
                problems.append(KeywordProblem(d, ("rules", i, "id"), f"重复的规则 id duplicate rule id {rule.id!r} (first at {first})"))
                continue
            rule_at[rule.id] = (d, ("rules", i, "id"))
            rules.append(rule)
    return Keywords(groups, rules), problems


def assemble_keywords(parsed: Sequence[tuple[Document, GroupSpec | RulesSpec]]) -> tuple[Keywords, list[ConfigIssue]]:
    """:func:`collect_keywords` for the config loader: problems become ``file:line: field: message``."""
    docs = [doc for doc, _ in parsed]

    def where(d: int, loc: Loc) -> str:
        line = docs[d].line_of(loc)
        return f"{docs[d].file}:{line}" if line else docs[d].file

    keywords, problems = collect_keywords([spec for _, spec in parsed], where)
    return keywords, [docs[p.doc].issue(p.loc, p.message) for p in problems]


__all__ = [
    "FIELDS", "GROUP_PREFIX", "GroupSpec", "Keywords", "KeywordProblem", "KeywordsDocument", "KeywordsError",
    "RuleSpec", "RulesSpec", "assemble_keywords", "collect_keywords", "parse_keywords_document",
]

