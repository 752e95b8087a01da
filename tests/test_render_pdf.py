"""A report rendered to a PDF that reads like the paper form (app/render_pdf.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

from pypdf import PdfReader

from app.render_pdf import ATTACHMENT_NAME, RenderedPdf, render_report_pdf
from app.reports import get_or_create_report, publish_form_version, save_values
from app.specs.model import CellSpec, RowSpec
from app.workflow import canonical_values
from tests.spec_fixtures import small_spec
from tests.test_workflow import cycle_setup


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _filled(session):
    report, _people = cycle_setup(session)
    save_values(session, report, {"r5|c3": "1200", "r5|c4": "34", "r6|c3": "1234.5",
                                  "r6|c4": "10", "r7|c3": "Số liệu ước tính"})
    session.commit()
    return report


def test_the_pdf_reads_like_the_paper_form(session):
    report = _filled(session)
    rendered = render_report_pdf(session, report, signed_on=dt.date(2026, 11, 20))
    assert isinstance(rendered, RenderedPdf)
    assert rendered.pdf.startswith(b"%PDF")

    text = _text(rendered.pdf)
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text
    assert "Độc lập - Tự do - Hạnh phúc" in text
    assert "UBND TỈNH" in text and "UBND XÃ MỘT" in text  # parent over unit, capitals
    assert "ngày 20 tháng 11 năm 2026" in text
    assert "Biểu thử" in text  # the spec's title
    assert "Tháng 11/2026" in text
    assert "TEST-B01" in text
    assert "Dân số" in text and "Diện tích lúa" in text
    assert "Kế hoạch năm" in text and "Thực hiện tháng" in text
    assert "1.234,5" in text  # an entry value, the Vietnamese way
    assert "1.234" in text and "1.244,5" in text  # computed totals: 1200+34, ROUND(1234.5+10)
    assert "Số liệu ước tính" in text
    assert "THỦ TRƯỞNG ĐƠN VỊ" in text
    assert "KT." not in text


def test_a_deputy_signs_on_behalf_of_the_head(session):
    report = _filled(session)
    text = _text(render_report_pdf(session, report, signer_title="Phó Chủ tịch",
                                   on_behalf_of="Chủ tịch").pdf)
    assert "KT. CHỦ TỊCH" in text
    assert "PHÓ CHỦ TỊCH" in text
    assert "THỦ TRƯỞNG ĐƠN VỊ" not in text


def test_the_values_are_embedded_as_canonical_json(session):
    report = _filled(session)
    rendered = render_report_pdf(session, report)
    expected_text, expected_hash = canonical_values(session, report)

    reader = PdfReader(io.BytesIO(rendered.pdf))
    attachments = reader.attachments
    assert list(attachments) == [ATTACHMENT_NAME]
    (data,) = attachments[ATTACHMENT_NAME]
    assert data.decode("utf-8") == expected_text
    assert hashlib.sha256(data).hexdigest() == rendered.values_hash == expected_hash
    assert '"r6|c3":"1234.5"' in expected_text


def test_the_noto_sans_fonts_are_embedded(session):
    report = _filled(session)
    reader = PdfReader(io.BytesIO(render_report_pdf(session, report).pdf))
    embedded = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor is not None and "/FontFile2" in descriptor.get_object():
                embedded.add(str(font["/BaseFont"]).split("+")[-1])
            assert font["/Subtype"] != "/Type1"  # no standard 14 font without Vietnamese
    assert embedded == {"NotoSans-Regular", "NotoSans-Bold"}


def test_a_long_table_splits_across_pages_with_its_header_repeated(session):
    report, _people = cycle_setup(session)
    long_spec = small_spec(code="TEST-LONG")
    sheet = long_spec.sheets[0]
    sheet.tables[0].last_row = 5 + 119
    long_spec.rows = [RowSpec(sheet=sheet.name, table=0, row=5 + i, kind="indicator",
                              key=f"r{5 + i}", label=f"Chỉ tiêu số {i + 1}", number=str(i + 1),
                              unit="người") for i in range(120)]
    long_spec.cells = [CellSpec(sheet=sheet.name, cell=f"C{5 + i}", kind="entry", type="integer",
                                row_key=f"r{5 + i}", column_key="c3") for i in range(120)]
    publish_form_version(session, long_spec, regime=report.regime)
    long_report = get_or_create_report(session, report.period, report.unit, "TEST-LONG")
    save_values(session, long_report, {"r124|c3": "98765"})
    session.commit()

    pdf = render_report_pdf(session, long_report).pdf
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.pages[0].mediabox.width < reader.pages[0].mediabox.height  # portrait
    assert len(reader.pages) >= 3
    pages = [page.extract_text() for page in reader.pages]
    with_rows = [page for page in pages if "Chỉ tiêu số" in page]
    assert len(with_rows) >= 3
    assert all("Kế hoạch năm" in page for page in with_rows)  # the header on every page
    assert "Chỉ tiêu số 120" in pages[-1] or "Chỉ tiêu số 120" in pages[-2]
    assert "98.765" in "".join(pages)


def test_a_wide_form_is_drawn_landscape():
    from app.render_pdf import _is_wide
    from app.specs.model import ColumnSpec

    spec = small_spec()
    assert not _is_wide(spec)
    table = spec.sheets[0].tables[0]
    table.columns += [ColumnSpec(sheet=table.sheet, table=0, col=6 + i, letter="FGHIJ"[i],
                                 role="value", key=f"c{6 + i}") for i in range(5)]
    assert _is_wide(spec)
