"""A narrative or linked report as a .docx in the layout of a Vietnamese administrative document
(Decree 30/2020 Appendix I): the issuing unit under its parent on the left and the national motto
on the right, the place and date, the title, the period, the narrative blocks as paragraphs,
the report's numbers as a table, and the signature block. Times New Roman 13–14 pt, A4 with the
decree's margins. python-docx writes it; no request is needed."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm, Pt

from app.formatting import LOCAL_TZ, format_number
from app.render_pdf import (
    DEFAULT_SIGNER_TITLE,
    MOTTO,
    MOTTO_NATION,
    _default_place,
    date_line,
)
from app.text import nfc

FONT = "Times New Roman"


def _paragraph(cell_or_doc, text: str, *, bold=False, italic=False, size=13, underline=False,
               align=WD_ALIGN_PARAGRAPH.CENTER):
    paragraph = cell_or_doc.add_paragraph()
    paragraph.alignment = align
    run = paragraph.add_run(text)
    run.bold, run.italic, run.underline = bold, italic, underline
    run.font.size = Pt(size)
    run.font.name = FONT
    return paragraph


def report_docx(session, report, *, day: dt.date | None = None) -> bytes:
    from app.reports import report_values, spec_of

    spec = spec_of(report.form_version)
    values = report_values(session, report)
    day = day or dt.datetime.now(LOCAL_TZ).date()
    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.top_margin = section.bottom_margin = Cm(2)
    section.left_margin, section.right_margin = Cm(3), Cm(1.5)
    style = document.styles["Normal"]
    style.font.name, style.font.size = FONT, Pt(13)

    header = document.add_table(rows=1, cols=2)
    left, right = header.rows[0].cells
    left.paragraphs[0].text = ""
    if report.unit.parent is not None:
        _paragraph(left, nfc(report.unit.parent.name).upper(), size=12)
    _paragraph(left, nfc(report.unit.name).upper(), bold=True, size=12)
    _paragraph(right, MOTTO_NATION, bold=True, size=12)
    _paragraph(right, MOTTO, bold=True, size=13, underline=True)
    _paragraph(right, date_line(_default_place(report.unit), day), italic=True, size=13)

    _paragraph(document, nfc(spec.title).upper(), bold=True, size=14)
    _paragraph(document, nfc(report.period.label), bold=True, size=13)
    for block in spec.narrative_blocks:
        text = values.get(block.key)
        if block.label:
            _paragraph(document, nfc(block.label), bold=True, align=WD_ALIGN_PARAGRAPH.LEFT)
        for line in str(text or "").splitlines():
            if line.strip():
                paragraph = _paragraph(document, nfc(line), align=WD_ALIGN_PARAGRAPH.JUSTIFY)
                paragraph.paragraph_format.first_line_indent = Cm(1)

    labels = {row.key: row.label for row in spec.rows}
    numbers = [(cell, values.get(cell.key)) for cell in spec.cells
               if isinstance(values.get(cell.key), Decimal)]
    if numbers:
        table = document.add_table(rows=1, cols=3)
        table.style = "Table Grid"
        for cell, text in zip(table.rows[0].cells, ("Chỉ tiêu", "Ô", "Giá trị"), strict=True):
            cell.text = text
        for cell, value in numbers:
            row = table.add_row().cells
            row[0].text = nfc(labels.get(cell.row_key, cell.row_key or ""))
            row[1].text = cell.cell
            row[2].text = format_number(value.normalize())

    signature = document.add_table(rows=1, cols=2)
    signer = signature.rows[0].cells[1]
    _paragraph(signer, DEFAULT_SIGNER_TITLE, bold=True)
    _paragraph(signer, "(Ký, ghi rõ họ tên, đóng dấu)", italic=True, size=12)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
