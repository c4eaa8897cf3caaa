"""The house style of official documents (公文格式), shared by the forms and the reports.

A4 with the GB/T 9704 margins, the title centred in bold 宋体 (二号), numbered sections (一、二、…)
in 黑体, bordered tables whose labels are 黑体 and whose entries are 仿宋, the issuing unit under
the title and the page number in the footer. Chinese font names go in ``w:eastAsia`` of every
run, so Word picks them for the Chinese text. Times are shown in Beijing time.

python-docx (and lxml, 7 MB) is imported by the functions that build a document, not here: the
daemon imports this module for its text helpers and never writes a document.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Union

from alerts.deadlines import CHINA

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.table import Table, _Cell
    from docx.text.paragraph import Paragraph

# Fonts: Latin text in Times New Roman, Chinese in the faces Chinese official documents use.
LATIN = "Times New Roman"
SONG = "宋体"  # the title (方正小标宋 where installed is the strict choice; 宋体 is on every Windows)
HEI = "黑体"  # section headings and table labels
FANG = "仿宋"  # body text and table entries
ER_HAO, SAN_HAO, SI_HAO, XIAO_SI, WU_HAO = 22, 16, 14, 12, 10.5  # 二号 三号 四号 小四 五号, in points

# A4 with the GB/T 9704-2012 margins: a 156 mm wide type area.
PAGE_W, PAGE_H = 21.0, 29.7
MARGINS = {"top": 3.7, "bottom": 3.5, "left": 2.8, "right": 2.6}
TEXT_W = PAGE_W - MARGINS["left"] - MARGINS["right"]
FOUR = (2.4, 5.4, 2.4, 5.4)  # column widths (cm) of label–entry–label–entry tables
TWO = (2.6, 13.0)  # of label–entry tables

BLANK_DATE = "　　　　年　　月　　日"
# Characters XML 1.0 cannot hold (control characters scraped from web pages would break the file).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# --- plain-text helpers --------------------------------------------------------------------------

def clean(text: str | None) -> str:
    return _NOT_XML.sub("", text or "")


def when(moment: datetime | None) -> str:
    """2026年9月30日 15:00 (Beijing time); empty for None."""
    if moment is None:
        return ""
    local = moment.astimezone(CHINA)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def date_cn(moment: datetime | None) -> str:
    if moment is None:
        return BLANK_DATE
    local = moment.astimezone(CHINA)
    return f"{local.year}年{local.month}月{local.day}日"


def span(seconds: float) -> str:
    minutes = int(abs(seconds)) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    return (f"{days}天" if days else "") + (f"{hours}小时" if days or hours else "") + f"{minutes}分"


# --- the document --------------------------------------------------------------------------------

# A table cell: text (lines split on "\n"), a list of lines, or None for blank space to write in.
CellText = Union[str, Sequence[str], None]


def _fonts(run_or_style_rpr: object, east: str) -> None:
    from docx.oxml.ns import qn  # python-docx only when a document is built (module docstring)

    rpr = run_or_style_rpr
    rfonts = rpr.get_or_add_rFonts()  # type: ignore[attr-defined]
    for attr in ("w:ascii", "w:hAnsi", "w:cs"):
        rfonts.set(qn(attr), LATIN)
    rfonts.set(qn("w:eastAsia"), east)


def add_run(paragraph: Paragraph, text: str, *, font: str = FANG, size: float = XIAO_SI, bold: bool = False) -> None:
    from docx.shared import Pt  # python-docx only when a document is built (module docstring)

    run = paragraph.add_run(clean(text))
    run.font.size = Pt(size)
    run.font.bold = bold
    _fonts(run._element.get_or_add_rPr(), font)


class OfficialDocument:
    """One document under construction, with the house style of the forms."""

    def __init__(self, title: str, institution: str, unit_label: str, number: str, generated_at: datetime,
                 subject: str | None = None) -> None:
        from docx import Document  # python-docx only when a document is built (module docstring)
        from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_TAB_ALIGNMENT
        from docx.shared import Cm

        self.doc: DocxDocument = Document()
        self._page()
        self._normal()
        props = self.doc.core_properties
        props.title, props.author, props.last_modified_by = title, institution, "yuqing"
        props.subject, props.comments = subject or f"告警 {number}", "舆情监测系统 yuqing 生成"
        props.created = props.modified = generated_at.astimezone(timezone.utc).replace(tzinfo=None)
        props.language = "zh-CN"
        # title, then the issuing unit on the left and the number on the right of one line
        head = self._paragraph(align=WD_ALIGN_PARAGRAPH.CENTER, before=0, after=12, line=1.0)
        add_run(head, title, font=SONG, size=ER_HAO, bold=True)
        line = self._paragraph(after=6)
        line.paragraph_format.tab_stops.add_tab_stop(Cm(TEXT_W), WD_TAB_ALIGNMENT.RIGHT)
        add_run(line, f"{unit_label}：{institution}（盖章）\t编号：{number}", size=XIAO_SI)

    def _page(self) -> None:
        from docx.enum.section import WD_ORIENT
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn
        from docx.shared import Cm

        section = self.doc.sections[0]
        section.orientation = WD_ORIENT.PORTRAIT
        section.page_width, section.page_height = Cm(PAGE_W), Cm(PAGE_H)
        section.top_margin, section.bottom_margin = Cm(MARGINS["top"]), Cm(MARGINS["bottom"])
        section.left_margin, section.right_margin = Cm(MARGINS["left"]), Cm(MARGINS["right"])
        section.footer_distance = Cm(2.0)
        footer = section.footer.paragraphs[0]
        footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
        add_run(footer, "— ", size=SI_HAO)
        field = OxmlElement("w:fldSimple")
        field.set(qn("w:instr"), " PAGE ")
        run = OxmlElement("w:r")
        text = OxmlElement("w:t")
        text.text = "1"
        run.append(text)
        field.append(run)
        footer._p.append(field)
        add_run(footer, " —", size=SI_HAO)

    def _normal(self) -> None:
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn
        from docx.shared import Pt

        style = self.doc.styles["Normal"]
        style.font.size = Pt(XIAO_SI)
        rpr = style.element.get_or_add_rPr()
        _fonts(rpr, FANG)
        lang = OxmlElement("w:lang")
        lang.set(qn("w:val"), "en-US")
        lang.set(qn("w:eastAsia"), "zh-CN")
        rpr.insert_element_before(lang, "w:eastAsianLayout", "w:specVanish", "w:oMath")

    def _paragraph(self, *, align: WD_ALIGN_PARAGRAPH | None = None, before: float = 0, after: float = 0,
                   line: float = 1.25) -> Paragraph:
        from docx.shared import Pt

        paragraph = self.doc.add_paragraph()
        fmt = paragraph.paragraph_format
        fmt.space_before, fmt.space_after, fmt.line_spacing = Pt(before), Pt(after), line
        if align is not None:
            paragraph.alignment = align
        return paragraph

    def section(self, number: str, heading: str) -> None:
        """一、基本情况: a numbered section heading in 黑体."""
        paragraph = self._paragraph(before=10, after=4)
        paragraph.paragraph_format.keep_with_next = True
        add_run(paragraph, f"{number}、{heading}", font=HEI, size=SI_HAO)

    def note(self, text: str) -> None:
        paragraph = self._paragraph(before=6)
        add_run(paragraph, text, size=WU_HAO)

    def text(self, text: str) -> None:
        """A body paragraph, first line indented by two characters as official documents are."""
        from docx.shared import Pt

        paragraph = self._paragraph(after=2, line=1.4)
        paragraph.paragraph_format.first_line_indent = Pt(XIAO_SI * 2)
        add_run(paragraph, text, size=XIAO_SI)

    def picture(self, png: bytes, width_cm: float = TEXT_W) -> None:
        """A chart, centred across the type area."""
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.shared import Cm

        paragraph = self._paragraph(align=WD_ALIGN_PARAGRAPH.CENTER, before=4, after=4, line=1.0)
        paragraph.add_run().add_picture(io.BytesIO(png), width=Cm(width_cm))

    def signatures(self, *pairs: tuple[str, str]) -> None:
        """A line of signatures under a table: 填报人：……  日期：……"""
        paragraph = self._paragraph(before=10, line=1.5)
        add_run(paragraph, "　　".join(f"{label}：{value}" for label, value in pairs), size=XIAO_SI)

    def table(self, widths: Sequence[float]) -> Table:
        from docx.enum.table import WD_TABLE_ALIGNMENT
        from docx.shared import Cm

        table: Table = self.doc.add_table(rows=0, cols=len(widths))
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        table.autofit = False  # fixed layout: the widths below hold
        for column, width in zip(table.columns, widths, strict=True):
            column.width = Cm(width)
        _borders(table)
        return table

    def row(self, table: Table, cells: Sequence[tuple[CellText, int]], *, labels: Iterable[int] = (),
            height: float | None = None, blank_lines: int = 2, header: bool = False,
            center: Iterable[int] = (), size: float = XIAO_SI) -> None:
        """Cells as (text, columns spanned); ``labels`` are the indexes set as labels (黑体, centred).

        ``height`` (cm) keeps room to write by hand; a None text leaves ``blank_lines`` empty lines.
        """
        from docx.enum.table import WD_ALIGN_VERTICAL, WD_ROW_HEIGHT_RULE
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.oxml import OxmlElement
        from docx.shared import Cm

        labels, center = set(labels), set(center)
        row = table.add_row()
        widths = [column.width for column in table.columns]
        column = 0
        for index, (text, span) in enumerate(cells):
            cell = row.cells[column]
            if span > 1:
                cell = cell.merge(row.cells[column + span - 1])
            cell.width = sum(widths[column:column + span], Cm(0))
            is_label = index in labels or header
            _fill(cell, text, label=is_label, blank_lines=blank_lines, size=size,
                  align=WD_ALIGN_PARAGRAPH.CENTER if is_label or index in center else None)
            cell.vertical_alignment = WD_ALIGN_VERTICAL.CENTER if is_label or index in center else \
                WD_ALIGN_VERTICAL.TOP
            column += span
        row._tr.get_or_add_trPr().insert(0, OxmlElement("w:cantSplit"))  # a row never breaks across pages
        if height is not None:
            row.height, row.height_rule = Cm(height), WD_ROW_HEIGHT_RULE.AT_LEAST
        if header:  # repeated at the top of every page the table runs onto
            row._tr.get_or_add_trPr().append(OxmlElement("w:tblHeader"))

    def kv(self, table: Table, label: str, value: CellText, *, height: float | None = None,
           blank_lines: int = 2) -> None:
        """A label and its entry spanning the rest of the row."""
        self.row(table, [(label, 1), (value, len(table.columns) - 1)], labels=[0], height=height,
                 blank_lines=blank_lines)

    def box(self, table: Table, label: str, value: CellText, signature: str, *, height: float = 4.0) -> None:
        """A label, then a box for handwriting holding ``value`` and a signature line at its foot."""
        from docx.enum.text import WD_ALIGN_PARAGRAPH

        lines = [] if value is None else ([value] if isinstance(value, str) else list(value))
        blank = [""] * max(2, 6 - len(lines))  # the signature at the foot of the box
        self.row(table, [(label, 1), ([*lines, *blank, f"{signature}　　　　　　　{BLANK_DATE}"],
                                      len(table.columns) - 1)], labels=[0], height=height)
        cell = table.rows[-1].cells[-1]
        cell.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.RIGHT

    def bytes(self) -> bytes:
        buffer = io.BytesIO()
        self.doc.save(buffer)
        return buffer.getvalue()


def _borders(table: Table) -> None:
    """Single black lines around and between every cell (not left to a table style)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        line = OxmlElement(f"w:{edge}")
        for key, value in (("w:val", "single"), ("w:sz", "8"), ("w:space", "0"), ("w:color", "000000")):
            line.set(qn(key), value)
        borders.append(line)
    table._tbl.tblPr.insert_element_before(
        borders, "w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook", "w:tblCaption", "w:tblDescription",
        "w:tblPrChange")


def _fill(cell: _Cell, text: CellText, *, label: bool, blank_lines: int, align: WD_ALIGN_PARAGRAPH | None,
          size: float = XIAO_SI) -> None:
    from docx.shared import Pt

    if text is None:
        lines = [""] * blank_lines
    elif isinstance(text, str):
        lines = text.split("\n")
    else:
        lines = [part for line in text for part in str(line).split("\n")] or [""]
    first = cell.paragraphs[0]
    for i, line in enumerate(lines):
        paragraph = first if i == 0 else cell.add_paragraph()
        fmt = paragraph.paragraph_format
        fmt.space_before = fmt.space_after = Pt(1)
        fmt.line_spacing = 1.2
        if align is not None:
            paragraph.alignment = align
        if line:
            add_run(paragraph, line, font=HEI if label else FANG, size=size)
