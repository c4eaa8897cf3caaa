"""YAML documents with the line of every value, so errors can say ``file:line: field``.

Aliases and anchors are refused: a config file has no need for them, and refusing them
removes the "billion laughs" expansion attack. Nothing in a file is ever executed
(``SafeLoader`` only builds plain data).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Loc = tuple[str | int, ...]

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_FILE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in one file, printed as ``file:line: field: message``."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class ConfigError(Exception):
    """Every problem found in a configuration folder, not just the first."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        super().__init__("\n".join(str(i) for i in issues))
        self.issues = issues


@dataclass
class Document:
    """One YAML document plus the line (1-based) of every key and item in it."""

    file: str
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int | None:
        """The line of the deepest part of ``loc`` that the file has (pydantic adds locs it invented)."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return None

    def issue(self, loc: Loc, message: str) -> ConfigIssue:
        return ConfigIssue(self.file, self.line_of(loc), format_loc(loc), message)


def format_loc(loc: Loc) -> str:
    """``("sources", 2, "type")`` → ``sources[2].type``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class _NoAliasLoader(yaml.SafeLoader):
    def compose_node(self, parent: Node | None, index: Any) -> Node | None:  # type: ignore[override]
        if self.check_event(AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(
                problem="YAML 别名/锚点不允许使用 (aliases are not allowed in config files)",
                problem_mark=event.start_mark,
            )
        return super().compose_node(parent, index)


def _line_map(node: Node, loc: Loc, lines: dict[Loc, int], file: str) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else str(key_node.start_mark)
            if key in seen:
                raise ConfigError([ConfigIssue(file, key_node.start_mark.line + 1, format_loc(loc + (key,)),
                                               "重复的键 duplicate key")])
            seen.add(key)
            lines[loc + (key,)] = key_node.start_mark.line + 1
            _line_map(value_node, loc + (key,), lines, file)
    elif isinstance(node, SequenceNode):
        for i, child in enumerate(node.value):
            _line_map(child, loc + (i,), lines, file)


def load_documents(path: Path, display: str | None = None) -> list[Document]:
    """Every document of a YAML file; raises ConfigError naming the file and line."""
    name = display or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError([ConfigIssue(name, None, "", f"无法读取文件 cannot read: {exc.strerror or exc}")]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError([ConfigIssue(name, None, "", f"文件过大 file larger than {MAX_FILE_BYTES} bytes")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError([ConfigIssue(name, line, "", "文件不是 UTF-8 编码 file is not UTF-8 (save it as UTF-8)")]) from None
    loader = _NoAliasLoader(text)
    docs: list[Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            lines: dict[Loc, int] = {}
            _line_map(node, (), lines, name)
            docs.append(Document(name, loader.construct_document(node), lines))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError([ConfigIssue(name, line, "", f"YAML 语法错误 syntax error: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigIssue(name, None, "", f"YAML 错误: {exc}")]) from None
    finally:
        loader.dispose()
    return [d for d in docs if d.data is not None]


def interpolate_env(doc: Document, environ: os._Environ[str] | dict[str, str] | None = None) -> list[ConfigIssue]:
    """Replace ``${NAME}`` in string values in place; report unset variables by line."""
    env = os.environ if environ is None else environ
    issues: list[ConfigIssue] = []

    def walk(value: Any, loc: Loc) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, loc + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, loc + (i,)) for i, v in enumerate(value)]
        if isinstance(value, str):
            def sub(m: re.Match[str]) -> str:
                if m.group(1) not in env:
                    issues.append(doc.issue(loc, f"环境变量未设置 environment variable {m.group(1)} is not set"))
                    return ""
                return env[m.group(1)]
            return _ENV_REF.sub(sub, value)
        return value

    doc.data = walk(doc.data, ())
    return issues


def issues_from_validation(doc: Document, exc: ValidationError, prefix: Loc = ()) -> list[ConfigIssue]:
    """Pydantic errors as ``file:line: field: message``, in Chinese first."""
    out = []
    for err in exc.errors(include_url=False):
        loc = prefix + _file_loc(doc, prefix, tuple(err["loc"]))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "未知的键 unknown key (typo?)"
        elif err["type"] == "missing":
            message = "缺少必填项 required field missing"
        out.append(doc.issue(loc, message))
    return out


def _file_loc(doc: Document, prefix: Loc, loc: Loc) -> Loc:
    """Drop the parts pydantic invents (union tags such as ``email`` or ``function-after[…]``)."""
    out: Loc = ()
    for i, part in enumerate(loc):
        if isinstance(part, str) and prefix + out + (part,) not in doc.lines:
            rest = loc[i + 1 :]
            node = _at(doc.data, prefix + out)
            is_tag = isinstance(node, dict) and part not in node and part in node.values()
            if is_tag or part.startswith(("function-", "literal[")) or (rest and prefix + out + rest[:1] in doc.lines):
                continue
        out += (part,)
    return out


def _at(data: Any, loc: Loc) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data
