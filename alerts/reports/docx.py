"""A report as a Word document in the house style of official documents (alerts.officialdoc):
the title, the issuing unit and the number, the period and date, numbered sections (一、二、…),
bordered tables with a header row repeated on every page, charts at the width of the type area,
and a signature line."""

from __future__ import annotations

from alerts.officialdoc import TEXT_W, WU_HAO, OfficialDocument, date_cn, when
from alerts.reports.document import Cell, Report, TableData

NUMERALS = "一二三四五六七八九十"


def numeral(n: int) -> str:
    """1 → 一, 12 → 十二 (section numbers up to 99)."""
    if n <= 10:
        return NUMERALS[n - 1]
    tens, ones = divmod(n, 10)
    return (NUMERALS[tens - 1] if tens > 1 else "") + "十" + (NUMERALS[ones - 1] if ones else "")


def _text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1%}" if 0 <= value <= 1 else f"{value:g}"
    return str(value)


def _widths(data: TableData) -> tuple[float, ...]:
    if data.widths_cm:
        scale = TEXT_W / sum(data.widths_cm)
        return tuple(w * scale for w in data.widths_cm)
    return tuple(TEXT_W / len(data.columns) for _ in data.columns)


def _table(doc: OfficialDocument, data: TableData) -> None:
    table = doc.table(_widths(data))
    doc.row(table, [(column, 1) for column in data.columns], header=True, size=WU_HAO)
    numeric = {i for i in range(len(data.columns))
               if data.rows and all(isinstance(row[i], (int, float)) or row[i] is None for row in data.rows)}
    for row in data.rows:
        doc.row(table, [(_text(value), 1) for value in row], center=numeric, size=WU_HAO)
    if not data.rows:
        doc.row(table, [("（无）", len(data.columns))], center=[0], size=WU_HAO)
    if data.total:
        doc.row(table, [(_text(value), 1) for value in data.total], labels=[0], center=numeric, size=WU_HAO)


def build_docx(report: Report) -> bytes:
    doc = OfficialDocument(report.title, report.institution, "编制单位", report.number, report.generated_at,
                           subject=f"{report.title} {report.period}")
    doc.text(f"{report.period_label}：{report.period}　　生成时间：{when(report.generated_at)}（北京时间）")
    for n, section in enumerate(report.sections, 1):
        doc.section(numeral(n), section.heading)
        for paragraph in section.paragraphs:
            doc.text(paragraph)
        for chart in section.charts:
            doc.picture(chart.png)
        for data in section.tables:
            _table(doc, data)
        for paragraph in section.after:
            doc.note(paragraph)
    doc.signatures(*(report.signatures or (("编制人", "　　　　　　"), ("审核人", "　　　　　　"),
                                           ("日期", date_cn(None)))))
    doc.note(f"本报告由舆情监测系统根据数据库记录生成于 {when(report.generated_at)}（北京时间）。")
    return doc.bytes()
