"""Load a configuration folder: ``sources.yaml``, ``keywords/*.yaml`` and ``alerts.yaml``.

Every problem of every file is collected and reported as ``file:line: field: message``; nothing
is half-loaded. The running daemon keeps its last good Config when a reload fails.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from alerts.config import AlertsFile
from crawler.config.keywords import Keywords, load_keywords
from crawler.config.sources import SourcesFile, SourceSpec
from crawler.config.yamlfile import (
    ConfigError,
    ConfigIssue,
    Document,
    interpolate_env,
    issues_from_validation,
    load_documents,
)
from crawler.types import FetchPolicy

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Config:
    folder: Path
    sources: SourcesFile
    keywords: Keywords
    alerts: AlertsFile
    warnings: tuple[str, ...] = ()
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ), repr=False)

    def enabled_sources(self, only: str | None = None) -> list[SourceSpec]:
        return [s for s in self.sources.sources if s.enabled and (only is None or s.id == only)]

    def policy(self, source: SourceSpec) -> FetchPolicy:
        """The fetch limits of one source: built-in < defaults < the source's own keys."""
        base = FetchPolicy()
        timeout = float(self.sources.setting(source, "timeout", base.total_timeout_s))  # type: ignore[arg-type]
        return FetchPolicy(
            user_agent=self.sources.user_agent or base.user_agent,
            connect_timeout_s=min(base.connect_timeout_s, timeout),
            read_timeout_s=min(base.read_timeout_s, timeout),
            total_timeout_s=timeout,
            max_body_bytes=int(self.sources.setting(source, "max_body", base.max_body_bytes)),  # type: ignore[call-overload]
            retries=int(self.sources.setting(source, "retries", base.retries)),  # type: ignore[call-overload]
            obey_robots=source.robots == "obey",
            allow_private_networks=(self.sources.allow_private_networks
                                    if isinstance(self.sources.allow_private_networks, bool)
                                    else tuple(self.sources.allow_private_networks)),
            encoding=source.encoding,
            headers=tuple((source.headers or {}).items()),
            cookie=self.environ.get(source.cookie_env) if source.cookie_env else None,
            per_host=int(self.sources.setting(source, "per_host", base.per_host)),  # type: ignore[call-overload]
            delay_s=float(self.sources.setting(source, "delay", base.delay_s)),  # type: ignore[arg-type]
        )


def _validate(doc: Document, model: type[M], issues: list[ConfigIssue]) -> M | None:
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        issues.extend(issues_from_validation(doc, exc))
        return None


def _load_sources(folder: Path, issues: list[ConfigIssue]) -> SourcesFile | None:
    path = folder / "sources.yaml"
    if not path.exists():
        issues.append(ConfigIssue(str(path), None, "", "文件不存在 file not found"))
        return None
    docs = load_documents(path)
    if len(docs) != 1 or not isinstance(docs[0].data, dict):
        issues.append(ConfigIssue(str(path), None, "", "应为一个 YAML 映射 expected one YAML mapping"))
        return None
    sources = _validate(docs[0], SourcesFile, issues)
    if sources is not None:
        seen: dict[str, int] = {}
        for i, source in enumerate(sources.sources):
            if source.id in seen:
                issues.append(docs[0].issue(("sources", i, "id"), f"重复的来源 id duplicate source id (first at sources[{seen[source.id]}])"))
            seen.setdefault(source.id, i)
    return sources


def _load_alerts(folder: Path, issues: list[ConfigIssue], environ: Mapping[str, str]) -> AlertsFile | None:
    path = folder / "alerts.yaml"
    if not path.exists():
        return AlertsFile()
    docs = load_documents(path)
    if not docs:
        return AlertsFile()
    if len(docs) != 1 or not isinstance(docs[0].data, dict):
        issues.append(ConfigIssue(str(path), None, "", "应为一个 YAML 映射 expected one YAML mapping"))
        return None
    env_issues = interpolate_env(docs[0], dict(environ))
    if env_issues:
        issues.extend(env_issues)
        return None
    return _validate(docs[0], AlertsFile, issues)


def load_config(folder: Path, environ: Mapping[str, str] | None = None) -> Config:
    """The whole configuration, or ConfigError listing every problem found."""
    env = dict(os.environ if environ is None else environ)
    issues: list[ConfigIssue] = []
    results: dict[str, Any] = {}
    for name, loader in (("sources", lambda: _load_sources(folder, issues)),
                         ("keywords", lambda: load_keywords(folder / "keywords")),
                         ("alerts", lambda: _load_alerts(folder, issues, env))):
        try:
            results[name] = loader()
        except ConfigError as exc:
            issues.extend(exc.issues)
    if issues:
        raise ConfigError(issues)
    sources: SourcesFile = results["sources"]
    warnings = tuple(
        f"sources.yaml: {s.id}: 环境变量 {s.cookie_env} 未设置，将不带 Cookie 抓取 (cookie_env not set)"
        for s in sources.sources if s.enabled and s.cookie_env and s.cookie_env not in env
    )
    return Config(folder, sources, results["keywords"], results["alerts"], warnings, env)
