"""The models of ``keywords/*.yaml``: groups of names and the rules that combine them.

Each YAML document of a keywords file is a group ``{group: 本单位, terms: [...]}``, a list of
rules ``{rules: [...]}`` or a global exclusion ``{exclude: [...], categories: [...]}``. Misspelt
keys are errors (``extra="forbid"``), never dropped. A term written ``re:PATTERN`` is a regular
expression (the ``regex`` module, case-insensitive); it must compile and must not match the empty
string, checked here so that the error names the file and line.

How errors are reported, in two stages:

* one document at a time, :func:`parse_keywords_document` raises pydantic's ``ValidationError``
  (a ``ValueError``); each error's ``loc`` is a path into the document such as
  ``("rules", 0, "grade")``, which ``yamlfile.issues_from_validation`` turns into ``file:line``;
* across documents and files, :func:`collect_keywords` *returns* a list of
  :class:`KeywordProblem` (document index, loc, message) for what one document cannot know:
  duplicate group names, duplicate rule ids, references to unknown groups or categories.
  :func:`assemble_keywords` is the same for the config loader, returning ``ConfigIssue``\\ s, and
  :meth:`Keywords.from_documents` is the one-call form that raises ``ValueError`` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import regex
from pydantic import (
    AfterValidator,
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

from crawler.config.yamlfile import (
    ConfigError,
    ConfigIssue,
    Document,
    Loc,
    format_loc,
    issues_from_validation,
    load_documents,
)

GROUP_PREFIX = "@"  # in any/all/not, ``@本单位`` stands for every term of the group 本单位
REGEX_PREFIX = "re:"  # ``re:\\d{3}元`` is a regular expression; the prefix is case-insensitive
FIELDS = ("title", "text", "author")


def is_regex(term: str) -> bool:
    return term[:len(REGEX_PREFIX)].lower() == REGEX_PREFIX


def compile_regex(term: str) -> regex.Pattern[str]:
    """The pattern of a ``re:`` term, compiled as matching uses it (text is folded to lower case)."""
    return regex.compile(term[len(REGEX_PREFIX):], regex.IGNORECASE)


def _check_term(term: str) -> str:
    """Regex terms compile and cannot match nothing; plain terms have something to match."""
    if is_regex(term):
        try:
            pattern = compile_regex(term)
        except regex.error as exc:
            raise ValueError(f"正则表达式无法编译 invalid regular expression {term[len(REGEX_PREFIX):]!r}: {exc}") from None
        if pattern.search("") is not None:
            raise ValueError(f"正则表达式会匹配空字符串 regular expression {pattern.pattern!r} matches the empty string")
        return term
    if not any(ch.isalnum() for ch in term):
        raise ValueError(f"词 {term!r} 没有文字或数字，无法匹配 (a term needs at least one letter, digit or character)")
    return term


Term = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_check_term)]
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


class ExcludeSpec(_Strict):
    """Global exclusions: as if these terms were in the ``not`` of every rule (or of the categories
    listed), so that drills, job ads and the like never reach a person whichever rule they trip."""

    exclude: list[Term] = Field(min_length=1, description="出现任一词，规则不触发；@词组 代表该组所有词")
    categories: list[str] = Field(default_factory=list, description="只对这些类别的规则生效；省略则对全部规则")
    description: str | None = None

    @field_validator("exclude", "categories")
    @classmethod
    def _dedupe(cls, value: list[str]) -> list[str]:
        return _unique(value)

    def group_references(self) -> list[tuple[Loc, str]]:
        return [(("exclude", i), t[len(GROUP_PREFIX):]) for i, t in enumerate(self.exclude) if t.startswith(GROUP_PREFIX)]


KeywordsDocument = GroupSpec | RulesSpec | ExcludeSpec
_KINDS: dict[str, type[KeywordsDocument]] = {"group": GroupSpec, "terms": GroupSpec, "rules": RulesSpec, "exclude": ExcludeSpec}


def _document_error(data: object, message: str) -> ValidationError:
    return ValidationError.from_exception_data("keywords document", [{
        "type": PydanticCustomError("keywords_document", message), "loc": (), "input": data}])


def _document_kind(data: object) -> type[KeywordsDocument]:
    """The model a document is meant to be, judged by its keys so that errors speak of that model."""
    kinds = {_KINDS[key] for key in data if key in _KINDS} if isinstance(data, Mapping) else set()
    if len(kinds) == 1:
        return kinds.pop()
    if kinds:
        raise _document_error(data, "一个文档只能是词组 (group/terms)、规则 (rules) 或排除 (exclude) 之一，请用 --- 分开"
                                    " (a document is a group, rules or exclude, not several; separate them with ---)")
    raise _document_error(data, "应为词组 {group, terms}、规则 {rules: [...]} 或排除 {exclude: [...]}"
                                " (expected a group, a rules or an exclude document)")


def parse_keywords_document(data: object) -> KeywordsDocument:
    """One YAML document → GroupSpec, RulesSpec or ExcludeSpec, discriminated by its keys.

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
    excludes: list[ExcludeSpec] = field(default_factory=list)

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


def _unknown_group(rule: str, name: str, groups: Mapping[str, list[str]]) -> str:
    known = "、".join(groups) or "无 none"
    return f"{rule} 引用了未定义的词组 {name!r} ({rule} names unknown group {name!r}; known groups: {known})"


def collect_keywords(
    specs: Sequence[KeywordsDocument], where: Callable[[int, Loc], str] = _default_where
) -> tuple[Keywords, list[KeywordProblem]]:
    """Merge documents into one Keywords and list what does not fit; pure, never raises.

    Problems: a group defined twice, a rule id used twice, a rule or exclusion naming a group
    nobody defined, an exclusion naming a category no rule has.
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
                    problems.append(KeywordProblem(d, ("rules", i, *loc), _unknown_group(f"规则 rule {rule.id}", name, groups)))
            if rule.id in rule_at:
                first = where(*rule_at[rule.id])
                problems.append(KeywordProblem(d, ("rules", i, "id"), f"重复的规则 id duplicate rule id {rule.id!r} (first at {first})"))
                continue
            rule_at[rule.id] = (d, ("rules", i, "id"))
            rules.append(rule)
    excludes = [(d, spec) for d, spec in enumerate(specs) if isinstance(spec, ExcludeSpec)]
    categories = {rule.category for rule in rules}
    for d, spec in excludes:
        for loc, name in spec.group_references():
            if name not in groups:
                problems.append(KeywordProblem(d, loc, _unknown_group("排除 exclude", name, groups)))
        for i, category in enumerate(spec.categories):
            if category not in categories:
                problems.append(KeywordProblem(d, ("categories", i), (
                    f"没有规则属于类别 {category!r} (no rule has category {category!r};"
                    f" categories: {'、'.join(sorted(categories)) or '无 none'})")))
    return Keywords(groups, rules, [spec for _, spec in excludes]), problems


def assemble_keywords(parsed: Sequence[tuple[Document, KeywordsDocument]]) -> tuple[Keywords, list[ConfigIssue]]:
    """:func:`collect_keywords` for the config loader: problems become ``file:line: field: message``."""
    docs = [doc for doc, _ in parsed]

    def where(d: int, loc: Loc) -> str:
        line = docs[d].line_of(loc)
        return f"{docs[d].file}:{line}" if line else docs[d].file

    keywords, problems = collect_keywords([spec for _, spec in parsed], where)
    return keywords, [docs[p.doc].issue(p.loc, p.message) for p in problems]


def keyword_files(path: Path) -> list[Path]:
    """One keywords file, or the ``*.yaml``/``*.yml`` of a folder (of its ``keywords/`` if it has one)."""
    if path.is_file():
        return [path]
    folder = path / "keywords" if (path / "keywords").is_dir() else path
    return sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))


def load_keywords(path: Path) -> Keywords:
    """The keywords of a file or folder on their own, without ``sources.yaml`` (``yuqing rules test``).

    Raises ``ConfigError`` with every problem as ``file:line: field: message``, like the loader.
    """
    files = keyword_files(path)
    if not files:
        raise ConfigError([ConfigIssue(str(path), None, "", "没有关键词文件 no keywords *.yaml files")])
    issues: list[ConfigIssue] = []
    parsed: list[tuple[Document, KeywordsDocument]] = []
    for file in files:
        try:
            docs = load_documents(file)
        except ConfigError as exc:
            issues.extend(exc.issues)
            continue
        for doc in docs:
            try:
                parsed.append((doc, parse_keywords_document(doc.data)))
            except ValidationError as exc:
                issues.extend(issues_from_validation(doc, exc))
    if not issues:
        keywords, issues = assemble_keywords(parsed)
    if issues:
        raise ConfigError(issues)
    return keywords


__all__ = [
    "FIELDS",
    "GROUP_PREFIX",
    "REGEX_PREFIX",
    "ExcludeSpec",
    "GroupSpec",
    "KeywordProblem",
    "Keywords",
    "KeywordsDocument",
    "KeywordsError",
    "RuleSpec",
    "RulesSpec",
    "assemble_keywords",
    "collect_keywords",
    "compile_regex",
    "is_regex",
    "keyword_files",
    "load_keywords",
    "parse_keywords_document",
]

