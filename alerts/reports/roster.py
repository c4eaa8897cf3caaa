"""The duty roster (值班表): who is on duty for each patrol window, rotating monthly.

Kept in the database (``duty_roster``: month × window → person; window ``*`` covers every
window of the month), filled by ``yuqing roster set`` or from ``duty.yaml`` in the config folder
(``yuqing roster import``)::

    start: 2026-11          # 轮换起始月
    months: 12              # 排几个月
    rotation: [小李, 小王]   # 第 n 个月由 rotation[n % 人数] 值班（全部时段）
    windows:                 # 可选：某个时段单独轮换
      "16:00-17:00": [小王, 小张]

The ledger and the monthly reminder name the person on duty through ``Roster.on_duty``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from crawler.config.yamlfile import ConfigError, ConfigIssue, issues_from_validation, load_documents
from crawler.schedule.windows import Window
from storage import reports as store

EVERY_WINDOW = "*"
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


def month_key(value: str | date) -> str:
    """``2026-11`` for a date or for what a person typed (``2026-11``, ``2026-1``); ValueError otherwise."""
    if isinstance(value, date):
        return f"{value.year:04d}-{value.month:02d}"
    m = _MONTH.match(str(value).strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"月份应写成 YYYY-MM，如 2026-11 (got {value!r})")
    return f"{int(m.group(1)):04d}-{int(m.group(2)):02d}"


def window_key(value: str) -> str:
    """``13:00-14:00`` normalised, or ``*`` for every window; ValueError for anything else."""
    value = value.strip()
    return EVERY_WINDOW if value in (EVERY_WINDOW, "", "全部", "all") else str(Window.parse(value))


def add_months(month: str, n: int) -> str:
    year, mon = (int(part) for part in month.split("-"))
    index = year * 12 + mon - 1 + n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


class DutyFile(BaseModel):
    """``duty.yaml``: a monthly rotation over people, optionally per window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: str
    months: int = Field(12, ge=1, le=120)
    rotation: list[str] = Field(default_factory=list)
    windows: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("start", mode="before")
    @classmethod
    def _month(cls, value: object) -> str:
        return month_key(value if isinstance(value, date) else str(value))

    @field_validator("windows")
    @classmethod
    def _windows(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        out = {}
        for window, people in value.items():
            if not people:
                raise ValueError(f"时段 {window} 的轮换名单为空 (empty rotation)")
            out[window_key(window)] = people
        return out

    def entries(self) -> list[tuple[str, str, str]]:
        """(month, window, person) for every month of the rotation."""
        out = []
        for n in range(self.months):
            month = add_months(self.start, n)
            if self.rotation:
                out.append((month, EVERY_WINDOW, self.rotation[n % len(self.rotation)]))
            for window, people in self.windows.items():
                out.append((month, window, people[n % len(people)]))
        return out


def load_duty_file(path: Path) -> DutyFile:
    """``duty.yaml`` validated; ConfigError with file and line otherwise."""
    docs = load_documents(path)
    if len(docs) != 1 or not isinstance(docs[0].data, dict):
        raise ConfigError([ConfigIssue(str(path), None, "", "应为一个 YAML 映射 expected one YAML mapping")])
    try:
        duty = DutyFile.model_validate(docs[0].data)
    except ValidationError as exc:
        raise ConfigError(issues_from_validation(docs[0], exc)) from None
    if not duty.rotation and not duty.windows:
        raise ConfigError([ConfigIssue(str(path), None, "rotation", "需要 rotation 或 windows 名单 (no one on duty)")])
    return duty


@dataclass(frozen=True)
class Roster:
    """month → window (or ``*``) → person, as read from the database."""

    entries: Mapping[tuple[str, str], str]

    def on_duty(self, moment: datetime | date, window: str | None = None) -> str | None:
        """Who is on duty at ``moment`` (local date) for ``window``; the month's ``*`` entry otherwise."""
        month = month_key(moment.date() if isinstance(moment, datetime) else moment)
        if window is not None and (month, window) in self.entries:
            return self.entries[(month, window)]
        return self.entries.get((month, EVERY_WINDOW))

    def people(self, month: str) -> list[str]:
        """Everyone on duty in ``month``, the ``*`` entry first."""
        found = sorted(((w != EVERY_WINDOW, w), p) for (m, w), p in self.entries.items() if m == month)
        return list(dict.fromkeys(person for _, person in found))


async def load_roster(session: AsyncSession, months: Iterable[str] | None = None) -> Roster:
    rows = await store.duty_entries(session, months)
    return Roster({(row.month, row.window): row.person for row in rows})


async def import_duty(session: AsyncSession, duty: DutyFile, now: datetime) -> int:
    """Replace the roster of the file's months with the file's rotation; returns the entries written."""
    entries = duty.entries()
    await store.clear_duty(session, {month for month, _, _ in entries})
    for month, window, person in entries:
        await store.set_duty(session, month, window, person, now)
    await session.commit()
    return len(entries)


async def set_duty(session: AsyncSession, month: str, window: str, person: str, now: datetime) -> None:
    await store.set_duty(session, month_key(month), window_key(window), person.strip(), now)
    await session.commit()
