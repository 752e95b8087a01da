"""A report drawn as the paper form reads: the header block of a Vietnamese administrative
document, the form's title and period, the grid with every entry and computed value, the
narrative blocks and the signature block — with the report's canonical values embedded as a
"values.json" attachment (the first part of signing a report).

Domain code: no request is needed, only a session and a report. The fonts (Noto Sans regular and
bold, SIL OFL, see app/static/fonts/OFL.txt) are embedded from app/static/fonts/, so Vietnamese
diacritics render on any machine without system fonts or network."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfdoc import (
    PDFArray,
    PDFDictionary,
    PDFName,
    PDFStream,
    PDFString,
)
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from app.formatting import LOCAL_TZ
from app.text import nfc

FONT_DIR = Path(__file__).resolve().parent / "static" / "fonts"
FONT = "NotoSans"
FONT_BOLD = "NotoSans-Bold"
ATTACHMENT_NAME = "values.json"
DEFAULT_SIGNER_TITLE = "THỦ TRƯỞNG ĐƠN VỊ"
MOTTO_NATION = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập - Tự do - Hạnh phúc"

# a form wider than this (in points, at the widths its workbook gives) is drawn landscape
_PORTRAIT_WIDTH = A4[0] - 30 * mm
_NUMERIC_TYPES = {"integer", "decimal", "percent", "number"}
# widths (in Excel characters) of columns the workbook gives no width for
_ROLE_WIDTHS = {"stt": 5, "label": 40, "unit": 10, "code": 8, "note": 14, "value": 14}


@dataclass(frozen=True)
class RenderedPdf:
    pdf: bytes
    values_hash: str  # SHA-256 of the embedded values.json (canonical_values)
    # where the signature and the seal go: (page index, x1, y1, x2, y2) in PDF points
    signature_box: tuple[int, float, float, float, float] | None = None


class _SignatureSpot(Flowable):
    """The empty space of the signature block; records where on which page it was drawn, so
    that signing can put the visible signature and the seal there."""

    def __init__(self, width: float, height: float, sink: list):
        super().__init__()
        self.width, self.height, self._sink = width, height, sink

    def wrap(self, available_width, available_height):
        return self.width, self.height

    def draw(self):
        x1, y1 = self.canv.absolutePosition(0, 0)
        x2, y2 = self.canv.absolutePosition(self.width, self.height)
        self._sink.append((self.canv.getPageNumber() - 1, x1, y1, x2, y2))


def _register_fonts() -> None:
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    pdfmetrics.registerFont(TTFont(FONT, str(FONT_DIR / "NotoSans-Regular.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(FONT_DIR / "NotoSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT,
                                  boldItalic=FONT_BOLD)


def _style(name: str, size: float = 9, bold: bool = False, align=TA_LEFT, **extra):
    return ParagraphStyle(name, fontName=FONT_BOLD if bold else FONT, fontSize=size,
                          leading=size * 1.25, alignment=align, **extra)


def _p(text, style) -> Paragraph:
    return Paragraph(xml_escape(nfc(str(text or ""))), style)


# -- the attachment ------------------------------------------------------------------------------


def _attachment_canvas(name: str, data: bytes, description: str):
    """A Canvas class that adds ``data`` as an embedded file to the document's name tree (and
    as an associated file of the document, as PDF/A-3 wants) just before saving."""

    class AttachingCanvas(Canvas):
        def save(self):
            doc = self._doc
            stream = PDFStream(content=data)
            stream.dictionary["Type"] = PDFName("EmbeddedFile")
            stream.dictionary["Subtype"] = PDFName("application#2Fjson")
            stream.dictionary["Params"] = PDFDictionary({
                "Size": len(data),
                "CheckSum": PDFString(hashlib.md5(data).digest(), enc="raw"),
            })
            file_spec = PDFDictionary({
                "Type": PDFName("Filespec"),
                "F": PDFString(name),
                "UF": PDFString(name),
                "Desc": PDFString(description),
                "AFRelationship": PDFName("Data"),
                "EF": PDFDictionary({"F": doc.Reference(stream)}),
            })
            spec_ref = doc.Reference(file_spec)
            doc.Catalog.Names = PDFDictionary({
                "EmbeddedFiles": PDFDictionary({"Names": PDFArray([PDFString(name), spec_ref])}),
            })
            doc.Catalog.__NoDefault__ = [*type(doc.Catalog).__NoDefault__, "AF"]
            doc.Catalog.AF = PDFArray([spec_ref])
            super().save()

    return AttachingCanvas


# -- the grid ------------------------------------------------------------------------------------


def _grid_sheets(spec, values: dict, period):
    """The sheets with their cell objects (uncached, read-only), rows units added to entity
    lists and period-aware headers included — what the entry page shows."""
    from app.views.entry import _build_grid, entity_tables, render_period_headers

    sheets = _build_grid(spec, values, editable=False, with_rows=True)
    for grid_table, _table, numbers, row_of in entity_tables(spec, sheets, values, False):
        grid_table.rows.extend(row_of(number) for number in numbers)
    render_period_headers(spec, sheets, period)
    return sheets


def _column_widths(sheet, table) -> list[float]:
    """Natural widths in points: the workbook's widths, else a width by column role."""
    widths = []
    for column in sorted(table.columns, key=lambda c: c.col):
        width = (sheet.column_widths or {}).get(column.letter)
        chars = float(width) if width else _ROLE_WIDTHS.get(column.role, 14)
        widths.append(max(chars, 4) * 5.5)
    return widths


def _is_wide(spec) -> bool:
    for sheet in spec.sheets:
        for table in sheet.tables:
            if len(table.columns) > 7 or sum(_column_widths(sheet, table)) > _PORTRAIT_WIDTH:
                return True
    return False


def _place(rows: list[list], width: int):
    """Lay out rows whose covered cells are left out (rowspan/colspan) on a full grid: the
    matrix of cells (None where covered) and reportlab SPAN commands."""
    taken: set[tuple[int, int]] = set()
    matrix, spans = [], []
    for r, row in enumerate(rows):
        line: list = [None] * width
        col = 0
        for cell in row:
            while col < width and (r, col) in taken:
                col += 1
            if col >= width:
                break
            colspan = min(max(getattr(cell, "colspan", 1), 1), width - col)
            rowspan = max(getattr(cell, "rowspan", 1), 1)
            line[col] = cell
            for dr in range(rowspan):
                for dc in range(colspan):
                    taken.add((r + dr, col + dc))
            if colspan > 1 or rowspan > 1:
                spans.append((r, col, r + rowspan - 1, col + colspan - 1))
            col += colspan
        matrix.append(line)
    # spans may not reach below the last row
    last = len(rows) - 1
    spans = [(r1, c1, min(r2, last), c2) for r1, c1, r2, c2 in spans]
    return matrix, spans


class _Styles:
    def __init__(self, size: float):
        self.header = _style("grid-header", size, bold=True, align=TA_CENTER)
        self.number = _style("grid-number", size - 1, align=TA_CENTER)
        self.text = _style("grid-text", size)
        self.bold = _style("grid-bold", size, bold=True)
        self.center = _style("grid-center", size, align=TA_CENTER)
        self.right = _style("grid-right", size, align=TA_RIGHT)
        self.right_bold = _style("grid-right-bold", size, bold=True, align=TA_RIGHT)


def _body_paragraph(cell, row_bold: bool, styles: _Styles) -> Paragraph | str:
    if cell is None:
        return ""
    if cell.kind == "entry":
        text = cell.value
    else:
        text = cell.text
    if not text:
        return ""
    if cell.kind == "label":
        style = styles.bold if (cell.bold or row_bold) else styles.text
        if cell.level:
            style = ParagraphStyle(f"{style.name}-{cell.level}", parent=style,
                                   leftIndent=min(cell.level, 6) * 8)
        return _p(text, style)
    if cell.kind in ("stt", "unit"):
        return _p(text, styles.center)
    if cell.cell is not None and (cell.cell.type in _NUMERIC_TYPES or cell.kind == "computed"):
        return _p(text, styles.right_bold if row_bold else styles.right)
    return _p(text, styles.bold if row_bold else styles.text)


def _grid_table(sheet_spec, table_spec, grid_table, usable_width: float, font_size: float):
    styles = _Styles(font_size)
    width = len(table_spec.columns)
    header_rows = [list(row) for row in grid_table.header_rows]
    head_count = len(header_rows)
    rows = header_rows[:]
    if grid_table.number_row:
        rows.append(list(grid_table.number_row))
        head_count += 1
    body_rows = [row for row in grid_table.rows if not row.hidden]
    rows += [row.cells for row in body_rows]

    from app.views.entry import GridCell

    normalised = [[GridCell(text=c) if isinstance(c, str) else c for c in row] for row in rows]
    matrix, spans = _place(normalised, width)

    data = []
    for r, line in enumerate(matrix):
        out = []
        for cell in line:
            if r < len(header_rows):
                out.append(_p(cell.text, styles.header) if cell is not None and cell.text else "")
            elif r < head_count:
                out.append(_p(cell.text, styles.number) if cell is not None and cell.text else "")
            else:
                row = body_rows[r - head_count]
                out.append(_body_paragraph(cell, row.kind == "heading", styles))
        data.append(out)
    if not data:
        return None

    natural = _column_widths(sheet_spec, table_spec)
    scale = usable_width / sum(natural) if sum(natural) else 1
    col_widths = [w * scale for w in natural]
    commands = [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if head_count:
        commands.append(("BACKGROUND", (0, 0), (-1, head_count - 1), colors.HexColor("#f2f2f2")))
    commands += [("SPAN", (c1, r1), (c2, r2)) for r1, c1, r2, c2 in spans]
    return Table(data, colWidths=col_widths, repeatRows=head_count, style=TableStyle(commands),
                 hAlign="CENTER")


# -- the document --------------------------------------------------------------------------------


def _default_place(unit) -> str:
    """The place on the date line: the province (or city) the unit sits in, when its top unit
    is named so ("UBND tỉnh Lào Cai" → "Lào Cai"); dots to fill in by hand otherwise."""
    top = unit
    while top is not None and top.parent is not None:
        top = top.parent
    name = nfc(top.name) if top is not None else ""
    for prefix in ("UBND tỉnh ", "Ủy ban nhân dân tỉnh ", "UBND thành phố ",
                   "Ủy ban nhân dân thành phố "):
        if name.lower().startswith(prefix.lower()) and len(name) > len(prefix):
            return name[len(prefix):]
    return "……………"


def date_line(place: str, day: dt.date) -> str:
    return f"{place}, ngày {day.day:02d} tháng {day.month:02d} năm {day.year}"


def _header_block(report, usable_width: float, place: str, day: dt.date):
    unit = report.unit
    parent = unit.parent
    left = []
    if parent is not None:
        left.append(_p(nfc(parent.name).upper(), _style("parent", 10, align=TA_CENTER)))
    left.append(_p(nfc(unit.name).upper(), _style("unit", 10, bold=True, align=TA_CENTER)))
    right = [
        _p(MOTTO_NATION, _style("nation", 10, bold=True, align=TA_CENTER)),
        Paragraph(f"<u>{xml_escape(MOTTO)}</u>", _style("motto", 10.5, bold=True,
                                                         align=TA_CENTER)),
        Spacer(1, 4),
        _p(date_line(place, day), _style("date", 10, align=TA_CENTER)),
    ]
    left_width = usable_width * 0.42
    table = Table([[left, right]], colWidths=[left_width, usable_width - left_width])
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("RIGHTPADDING", (0, 0), (-1, -1), 0),
    ]))
    return table


def _signature_block(usable_width: float, signer_title: str | None, on_behalf_of: str | None,
                     signer_name: str | None, spot_sink: list):
    title_style = _style("sign-title", 10.5, bold=True, align=TA_CENTER)
    lines = []
    if on_behalf_of:
        lines.append(_p(f"KT. {nfc(on_behalf_of).upper()}", title_style))
    lines.append(_p(nfc(signer_title or DEFAULT_SIGNER_TITLE).upper(), title_style))
    lines.append(_p("(Ký, ghi rõ họ tên, đóng dấu)", _style("sign-hint", 8.5, align=TA_CENTER)))
    block_width = min(90 * mm, usable_width / 2)
    lines.append(_SignatureSpot(block_width, 28 * mm, spot_sink))  # the signature and the seal
    if signer_name:
        lines.append(_p(signer_name, _style("sign-name", 10.5, bold=True, align=TA_CENTER)))
    table = Table([["", lines]], colWidths=[usable_width - block_width, block_width])
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("RIGHTPADDING", (0, 0), (-1, -1), 0),
    ]))
    return KeepTogether([Spacer(1, 6 * mm), table])


def _page_footer(form_code: str, period_label: str):
    def draw(canvas, doc):
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.drawString(doc.leftMargin, 8 * mm, f"{form_code} — {period_label}")
        canvas.drawRightString(doc.pagesize[0] - doc.rightMargin, 8 * mm,
                               f"Trang {doc.page}")
        canvas.restoreState()

    return draw


def render_report_pdf(
    session,
    report,
    *,
    signer_title: str | None = None,
    on_behalf_of: str | None = None,
    signer_name: str | None = None,
    place: str | None = None,
    signed_on: dt.date | None = None,
) -> RenderedPdf:
    """The report as a PDF reading like the paper form, its canonical values embedded as
    "values.json", and that attachment's SHA-256.

    ``signer_title``: the signer's position ("THỦ TRƯỞNG ĐƠN VỊ" when not given);
    ``on_behalf_of``: when a deputy signs, the head's title, drawn as "KT. <title>" above the
    signer's. ``place`` and ``signed_on`` make the date line (the province of the unit and
    today in Vietnam by default)."""
    from app.reports import report_values, spec_of
    from app.workflow import canonical_values

    _register_fonts()
    spec = spec_of(report.form_version)
    values = report_values(session, report)
    values_json, values_hash = canonical_values(session, report)
    period = report.period

    pagesize = landscape(A4) if _is_wide(spec) else A4
    margin = 15 * mm
    usable = pagesize[0] - 2 * margin
    day = signed_on or dt.datetime.now(LOCAL_TZ).date()
    grid_font = 8 if pagesize is not A4 else 8.5

    story: list = [
        _header_block(report, usable, place or _default_place(report.unit), day),
        Spacer(1, 8 * mm),
        _p(spec.title, _style("title", 13, bold=True, align=TA_CENTER)),
        Spacer(1, 1.5 * mm),
        _p(period.label, _style("period", 11, bold=True, align=TA_CENTER)),
        _p(f"Biểu số: {report.form_code or spec.code}", _style("code", 9, align=TA_CENTER)),
        Spacer(1, 5 * mm),
    ]
    by_name = {sheet.name: sheet for sheet in spec.sheets}
    many_sheets = len(spec.sheets) > 1
    for grid_sheet in _grid_sheets(spec, values, period):
        sheet_spec = by_name[grid_sheet.name]
        if many_sheets or grid_sheet.title:
            for line in grid_sheet.title or ([grid_sheet.name] if many_sheets else []):
                story.append(_p(line, _style("sheet", 10, bold=True, align=TA_CENTER)))
            story.append(Spacer(1, 2 * mm))
        for table_spec, grid_table in zip(sheet_spec.tables, grid_sheet.tables, strict=True):
            table = _grid_table(sheet_spec, table_spec, grid_table, usable, grid_font)
            if table is not None:
                story += [table, Spacer(1, 4 * mm)]
        for block in grid_sheet.narratives:
            if block["label"]:
                story.append(_p(block["label"], _style("narr-label", 10, bold=True,
                                                       spaceBefore=4)))
            for paragraph in (block["value"] or "").splitlines() or [""]:
                if paragraph.strip():
                    story.append(_p(paragraph, _style("narr", 10, spaceAfter=2,
                                                      firstLineIndent=8 * mm)))
            story.append(Spacer(1, 2 * mm))
    spots: list = []
    story.append(_signature_block(usable, signer_title, on_behalf_of, signer_name, spots))

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=pagesize, leftMargin=margin, rightMargin=margin,
        topMargin=15 * mm, bottomMargin=15 * mm,
        title=f"{spec.title} — {period.label}", author=nfc(report.unit.name),
        subject=f"{report.form_code} {period.label}", creator="HTTTBC",
        lang="vi-VN", initialFontName=FONT, initialFontSize=9,
    )
    footer = _page_footer(report.form_code or spec.code, period.label)
    canvas_class = _attachment_canvas(
        ATTACHMENT_NAME, values_json.encode("utf-8"),
        f"Số liệu báo cáo (JSON chuẩn hóa), SHA-256 {values_hash}",
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer, canvasmaker=canvas_class)
    return RenderedPdf(pdf=buffer.getvalue(), values_hash=values_hash,
                       signature_box=spots[-1] if spots else None)


__all__ = ["RenderedPdf", "date_line", "render_report_pdf"]
