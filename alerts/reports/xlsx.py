"""A report as an Excel workbook (openpyxl): a first sheet 说明 with the title, issuing unit,
period and the sections' text, then one sheet per table (numbers stay numbers, so the reader can
sum and filter), and a sheet 图表 with the charts."""

from __future__ import annotations

import io
import re

from openpyxl import Workbook
from openpyxl.drawing.image import Image
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from alerts.officialdoc import clean, when
from alerts.reports.docx import numeral
from alerts.reports.document import Report, TableData

FONT = "宋体"
_BAD_SHEET = re.compile(r"[\[\]:*?/\\]")
THIN = Side(style="thin", color="000000")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)


def sheet_title(name: str, taken: set[str]) -> str:
    """A valid, unique sheet name (31 characters at most, no []:*?/\\)."""
    base = _BAD_SHEET.sub("_", name)[:31] or "表"
    title, n = base, 2
    while title in taken:
        suffix = f"({n})"
        title, n = base[:31 - len(suffix)] + suffix, n + 1
    taken.add(title)
    return title


def _cell(value: object) -> object:
    return clean(value) if isinstance(value, str) else value


def _width(value: object) -> int:
    text = str(value or "")
    return sum(2 if ord(c) > 0x2E80 else 1 for c in text)


def _write_table(ws: Worksheet, data: TableData) -> None:
    ws.append(list(data.columns))
    for row in data.rows:
        ws.append([_cell(v) for v in row])
    if data.total:
        ws.append([_cell(v) for v in data.total])
    for cell in ws[1]:
        cell.font = Font(name=FONT, bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for row in ws.iter_rows():
        for cell in row:
            cell.border = BOX
            if cell.row > 1:
                cell.font = Font(name=FONT, bold=bool(data.total) and cell.row == ws.max_row)
                if isinstance(cell.value, float) and 0 <= cell.value <= 1:
                    cell.number_format = "0.0%"
                if isinstance(cell.value, str) and cell.value.startswith(("http://", "https://")):
                    cell.hyperlink = cell.value
    for i, column in enumerate(data.columns, 1):
        widest = max([_width(column), *(_width(row[i - 1]) for row in data.rows)])
        ws.column_dimensions[get_column_letter(i)].width = min(max(8, widest + 2), 60)
    ws.freeze_panes = "A2"


def build_xlsx(report: Report) -> bytes:
    book = Workbook()
    taken: set[str] = set()
    about = book.active
    about.title = sheet_title("说明", taken)
    about.append([report.title])
    about["A1"].font = Font(name=FONT, bold=True, size=16)
    for line in (f"编制单位：{report.institution}", f"编号：{report.number}", f"{report.period_label}：{report.period}",
                 f"生成时间：{when(report.generated_at)}（北京时间）"):
        about.append([line])
    for n, section in enumerate(report.sections, 1):
        about.append([])
        about.append([f"{numeral(n)}、{section.heading}"])
        about.cell(about.max_row, 1).font = Font(name=FONT, bold=True)
        for paragraph in (*section.paragraphs, *section.after):
            about.append([clean(paragraph)])
        for data in section.tables:
            about.append([f"（见工作表「{data.sheet}」）"])
    about.column_dimensions["A"].width = 100
    for data in report.tables():
        _write_table(book.create_sheet(sheet_title(data.sheet, taken)), data)
    charts = report.charts()
    if charts:
        ws = book.create_sheet(sheet_title("图表", taken))
        row = 1
        for chart in charts:
            ws.cell(row, 1, chart.title).font = Font(name=FONT, bold=True)
            image = Image(io.BytesIO(chart.png))
            image.width, image.height = image.width * 0.5, image.height * 0.5
            ws.add_image(image, f"A{row + 1}")
            row += int(image.height / 20) + 3
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
