"""A report as plain data — numbered sections of paragraphs, tables and charts — so that one
composition is written out as .docx (alerts.reports.docx) and as .xlsx (alerts.reports.xlsx)
without either writer knowing which report it is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

Cell = str | int | float | None


@dataclass(frozen=True)
class TableData:
    """One table: a sheet of its own in .xlsx (``sheet`` names it), a bordered table in .docx."""

    sheet: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    widths_cm: tuple[float, ...] | None = None  # .docx column widths; None: equal
    total: tuple[Cell, ...] | None = None  # a 合计 row under the table


@dataclass(frozen=True)
class Chart:
    title: str
    png: bytes


@dataclass(frozen=True)
class Section:
    heading: str
    paragraphs: tuple[str, ...] = ()
    tables: tuple[TableData, ...] = ()
    charts: tuple[Chart, ...] = ()
    after: tuple[str, ...] = ()  # paragraphs under the tables (notes, the sign-off line)


@dataclass(frozen=True)
class Report:
    """What both writers need: the title, the issuing unit, the number and date, the sections."""

    kind: str  # daily | weekly | monthly | annual | ledger | incident
    title: str  # 舆情日报
    institution: str
    number: str  # 2026-11-30 | 2026-W48 | 专报-3
    period: str  # 2026年11月30日
    generated_at: datetime
    sections: tuple[Section, ...]
    signatures: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    period_label: str = "报告期"  # what ``period`` is: 报告期, or 事件 for a 专报

    def tables(self) -> list[TableData]:
        return [table for section in self.sections for table in section.tables]

    def charts(self) -> list[Chart]:
        return [chart for section in self.sections for chart in section.charts]

    def file_name(self, fmt: str) -> str:
        """e.g. ``舆情日报-2026-11-30.docx``."""
        return f"{self.title}-{self.number}.{fmt}"


def table(sheet: str, columns: Sequence[str], rows: Sequence[Sequence[Cell]], *,
          widths_cm: Sequence[float] | None = None, total: Sequence[Cell] | None = None) -> TableData:
    return TableData(sheet, tuple(columns), tuple(tuple(row) for row in rows),
                     tuple(widths_cm) if widths_cm else None, tuple(total) if total else None)
