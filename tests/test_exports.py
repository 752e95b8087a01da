"""Exports of the province's figures (app/exports.py) read back to the same numbers: .csv
(UTF-8 with a BOM), .xlsx and JSON, each labelled official or provisional."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

from openpyxl import load_workbook

from app.consolidation import (
    OFFICIAL_LABEL,
    PROVISIONAL_LABEL,
    aggregate,
    indicator_over_periods,
    recent_periods,
    unit_matrix,
)
from app.exports import (
    aggregate_table,
    csv_chunks,
    json_bytes,
    series_table,
    unit_matrix_table,
    xlsx_bytes,
)
from tests.test_aggregation import _periods, _report
from tests.test_consolidation import FORM, World

TITLE = "Chỉ tiêu kinh tế - xã hội, Tháng 11/2026"


def _world(session):
    world = World(session)
    units = [world.unit(name) for name in ("UBND xã Ấp Bắc", "UBND xã Đồng Hòa")]
    for unit, (people, income, state) in zip(units, ((1200, "5,25", "accepted"),
                                                     (800, "6,75", "sent")), strict=True):
        _report(world, world.period, unit, {"r1|c4": people, "r2|c4": income}, state)
    session.commit()
    return world, units


def _figures(session, world, **options):
    return aggregate(session, regime=world.regime, form_code=FORM,
                     period_ids=[world.period.id], root_unit=world.province, **options)


def test_csv_has_a_bom_the_label_and_the_same_numbers(session):
    world, _units = _world(session)
    text = "".join(csv_chunks(aggregate_table(session, _figures(session, world), TITLE)))
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[0] == [TITLE] and rows[1] == [OFFICIAL_LABEL]
    assert rows[2] == ["Mã chỉ tiêu", "Chỉ tiêu", "Đơn vị tính", "Cột", "Phân tổ", "Giá trị"]
    by_code = {row[0]: row for row in rows[3:]}
    assert by_code["DS"][1] == "Dân số" and Decimal(by_code["DS"][5]) == 1200  # accepted only
    assert Decimal(by_code["TN"][5]) == Decimal("5.25")

    provisional = "".join(csv_chunks(aggregate_table(
        session, _figures(session, world, provisional=True), TITLE)))
    rows = list(csv.reader(io.StringIO(provisional.removeprefix("\ufeff"))))
    assert rows[1] == [PROVISIONAL_LABEL]
    assert Decimal({r[0]: r for r in rows[3:]}["DS"][5]) == 2000
    assert Decimal({r[0]: r for r in rows[3:]}["TN"][5]) == Decimal("6")  # the average


def test_xlsx_and_json_read_back_to_the_same_numbers(session):
    world, units = _world(session)
    figures = _figures(session, world, provisional=True, by_unit=True)
    book = load_workbook(io.BytesIO(xlsx_bytes(aggregate_table(session, figures, TITLE))))
    sheet = book.active
    assert sheet["A1"].value == TITLE and sheet["A2"].value == PROVISIONAL_LABEL
    read = {(row[1], row[2]): row[7] for row in sheet.iter_rows(min_row=4, values_only=True)}
    assert read[("UBND xã Ấp Bắc", "DS")] == 1200 and read[("UBND xã Đồng Hòa", "DS")] == 800
    assert Decimal(str(read[("UBND xã Đồng Hòa", "TN")])) == Decimal("6.75")

    document = json.loads(json_bytes(aggregate_table(session, figures, TITLE)))
    assert document["label"] == PROVISIONAL_LABEL
    assert {(r[1], r[2]): r[7] for r in document["rows"]}[("UBND xã Ấp Bắc", "TN")] == "5.25"

    breakdown = unit_matrix(session, regime=world.regime, form_code=FORM,
                            period_ids=[world.period.id], root_unit=world.province,
                            column_key="c4", provisional=True)
    matrix = load_workbook(io.BytesIO(xlsx_bytes(unit_matrix_table(breakdown, TITLE)))).active
    assert matrix["A2"].value == PROVISIONAL_LABEL
    header = [c.value for c in matrix[3]]
    assert header[:2] == ["Mã đơn vị", "Đơn vị"] and "DS Dân số" in header
    people = header.index("DS Dân số")
    rows = {r[1]: r for r in matrix.iter_rows(min_row=4, values_only=True)}
    assert rows["UBND xã Ấp Bắc"][people] == 1200 and rows["UBND xã Đồng Hòa"][people] == 800


def test_the_figures_page_shows_and_exports_within_the_viewers_scope(app_ctx, session):
    from app.roles import AGGREGATOR, VIEWER
    from tests import factories
    from tests.test_entry_workflow import Person

    world, units = _world(session)
    factories.user(session, "khdt.tonghop", world.lead, [AGGREGATOR])
    factories.user(session, "xa.xem", units[0], [VIEWER])
    session.commit()
    query = (f"/figures/?regime_id={world.regime.id}&period_id={world.period.id}"
             f"&unit_id={world.province.id}&provisional=1")
    lead = Person(app_ctx, "khdt.tonghop")
    page = lead.get(query).get_data(as_text=True)
    assert PROVISIONAL_LABEL in page and "Dân số" in page and ">2.000<" in page
    exported = lead.get(query + "&format=csv")
    assert exported.mimetype == "text/csv" and exported.data.startswith("\ufeff".encode())
    assert "attachment" in exported.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).removeprefix("\ufeff"))))
    assert Decimal({r[0]: r for r in rows[3:]}["DS"][5]) == 2000
    book = load_workbook(io.BytesIO(lead.get(query + "&format=xlsx").data))
    assert book.active["A2"].value == PROVISIONAL_LABEL

    # a commune's viewer reaches its own subtree, not the province
    viewer = Person(app_ctx, "xa.xem")
    assert viewer.get(query).status_code == 404
    own = (f"/figures/?regime_id={world.regime.id}&period_id={world.period.id}"
           f"&unit_id={units[0].id}")
    assert viewer.get(own).status_code == 200


def test_a_consolidated_workbook_gets_a_breakdown_sheet_of_its_units(app_ctx, session):
    from openpyxl import Workbook

    from app.reports import spec_of
    from app.views.entry import _with_breakdown
    from tests.test_consolidation import province_over_communes

    world = province_over_communes(session, states=("accepted", "sent", "accepted"))
    empty = io.BytesIO()
    Workbook().save(empty)
    data = _with_breakdown(world.top, spec_of(world.top.form_version), empty.getvalue())
    sheet = load_workbook(io.BytesIO(data))["Chi tiết theo đơn vị"]
    assert sheet["A2"].value == OFFICIAL_LABEL
    header = [c.value for c in sheet[3]]
    assert header[:3] == ["Đơn vị", "Trạng thái", "Được tính"] and "D5 Dân số" in header
    rows = {r[0]: r for r in sheet.iter_rows(min_row=4, values_only=True)}
    assert set(rows) == {"UBND xã An Bình", "UBND xã Bình Hòa", "UBND xã Cẩm Sơn"}
    people = header.index("D5 Dân số")
    assert rows["UBND xã An Bình"][people] == 900 and rows["UBND xã Bình Hòa"][2] == "không"


def test_a_consolidated_report_downloads_as_a_pdf_of_the_paper_form(app_ctx, session):
    from pypdf import PdfReader

    from app.consolidation import consolidate
    from app.roles import PROVINCIAL_ADMIN
    from tests import factories
    from tests.test_consolidation import province_over_communes
    from tests.test_entry_workflow import Person

    world = province_over_communes(session)
    consolidate(session, world.top)
    factories.user(session, "tinh.qt", world.province, [PROVINCIAL_ADMIN])
    session.commit()
    person = Person(app_ctx, "tinh.qt")
    assert f"/entry/{world.top.id}/pdf" in person.get(f"/entry/{world.top.id}").get_data(
        as_text=True)
    response = person.get(f"/entry/{world.top.id}/pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)
    assert "Chỉ tiêu kinh tế - xã hội" in text and "3.150" in text  # the consolidated total


def test_a_narrative_report_downloads_as_a_word_document(app_ctx, session):
    from docx import Document

    from app.reports import get_or_create_report, publish_form_version, save_values
    from app.specs.model import NarrativeBlock
    from tests.spec_fixtures import SHEET, small_spec
    from tests.test_entry_workflow import Person, cycle_today

    report, _people = cycle_today(session)
    spec = small_spec(code="TEST-N01")
    spec.narrative_blocks = [NarrativeBlock(sheet=SHEET, range="A10:E15", key="tinh_hinh",
                                            label="Tình hình kinh tế - xã hội")]
    publish_form_version(session, spec, regime=report.regime)
    narrative = get_or_create_report(session, report.period, report.unit, "TEST-N01")
    save_values(session, narrative, {"r5|c3": "1200"})
    from app.models import ReportValue

    session.add(ReportValue(report_id=narrative.id, row_key="tinh_hinh", column_key="",
                            text_value="Sản xuất nông nghiệp ổn định.\nMưa lũ gây sạt lở tại "
                                       "ấp Bình Hòa."))  # as the page stores a narrative block
    session.commit()
    entry = Person(app_ctx, "xa1.nhaplieu")
    page = entry.get(f"/entry/{narrative.id}").get_data(as_text=True)
    assert f"/entry/{narrative.id}/docx" in page
    response = entry.get(f"/entry/{narrative.id}/docx")
    assert response.status_code == 200 and response.mimetype.endswith("document")
    document = Document(io.BytesIO(response.data))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "Tình hình kinh tế - xã hội" in text
    assert "Mưa lũ gây sạt lở tại ấp Bình Hòa." in text
    header = document.tables[0].rows[0].cells
    assert "UBND XÃ MỘT" in header[0].text and "Độc lập - Tự do - Hạnh phúc" in header[1].text
    numbers = {row.cells[1].text: row.cells[2].text for row in document.tables[1].rows[1:]}
    assert numbers["C5"] == "1.200"


def test_an_indicator_over_periods_exports_and_reads_back(app_ctx, session):
    from app.roles import AGGREGATOR
    from tests import factories
    from tests.test_entry_workflow import Person

    world = World(session)
    november, october, september = _periods(world, 3)
    units = [world.unit("UBND xã Ấp Bắc"), world.unit("UBND xã Đồng Hòa")]
    for period, people in ((september, (90, 10)), (october, (100, 20)), (november, (110, 30))):
        for unit, count in zip(units, people, strict=True):
            _report(world, period, unit, {"r1|c4": count}, "accepted")
    _report(world, november, world.unit("UBND xã Mới"), {"r1|c4": 5}, "sent")  # provisional
    factories.user(session, "khdt.tonghop", world.lead, [AGGREGATOR])
    session.commit()
    people = world.indicators["DS"]
    periods = recent_periods(session, world.regime, november.cutoff_start, 12)
    assert [p.number for p in periods] == [9, 10, 11]
    points = indicator_over_periods(session, regime=world.regime, indicator_id=people.id,
                                    periods=periods, root_unit=world.province)
    table = series_table(session, points, people, TITLE, OFFICIAL_LABEL)
    book = load_workbook(io.BytesIO(xlsx_bytes(table)))
    sheet = book.active
    assert sheet["B2"].value is None and sheet["A2"].value == OFFICIAL_LABEL
    assert [c.value for c in sheet[3]][0] == "Kỳ"
    assert [(r[0], r[1]) for r in sheet.iter_rows(min_row=4, values_only=True)] == [
        ("Tháng 9/2026", 100), ("Tháng 10/2026", 120), ("Tháng 11/2026", 140)]
    assert "DS Dân số" in sheet["A1"].value

    lead = Person(app_ctx, "khdt.tonghop")
    query = (f"/figures/?regime_id={world.regime.id}&period_id={november.id}"
             f"&unit_id={world.province.id}&series={people.id}")
    page = lead.get(query).get_data(as_text=True)
    assert "Tháng 9/2026" in page and ">140<" in page
    exported = lead.get(query + "&provisional=1&format=csv")
    assert exported.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).removeprefix("\ufeff"))))
    assert rows[1] == [PROVISIONAL_LABEL]
    assert {r[0]: Decimal(r[1]) for r in rows[3:]} == {
        "Tháng 9/2026": 100, "Tháng 10/2026": 120, "Tháng 11/2026": 145}
    document = json.loads(lead.get(query + "&count=2&format=json").data)
    assert [row[0] for row in document["rows"]] == ["Tháng 10/2026", "Tháng 11/2026"]
    assert Decimal(document["rows"][1][1]) == 140


def test_the_breakdown_by_unit_downloads_as_a_matrix_of_units_and_indicators(app_ctx, session):
    """With "by unit" chosen, the page offers each value column as a matrix (one row per
    unit, one column per indicator), streamed as .xlsx, .csv and JSON: each reads back to the
    units' own figures."""
    from app.roles import AGGREGATOR
    from tests import factories
    from tests.test_entry_workflow import Person

    world, units = _world(session)
    factories.user(session, "khdt.tonghop", world.lead, [AGGREGATOR])
    session.commit()
    query = (f"/figures/?regime_id={world.regime.id}&period_id={world.period.id}"
             f"&unit_id={world.province.id}&provisional=1&by_unit=1")
    lead = Person(app_ctx, "khdt.tonghop")
    page = lead.get(query).get_data(as_text=True)
    assert 'data-column="c4"' in page and "figures-matrix-export" in page

    book = load_workbook(io.BytesIO(lead.get(query + "&column=c4&format=xlsx").data)).active
    assert book["A2"].value == PROVISIONAL_LABEL
    header = [cell.value for cell in book[3]]
    assert header[:2] == ["Mã đơn vị", "Đơn vị"]
    people = next(n for n, name in enumerate(header) if name and name.startswith("DS "))
    by_unit = {row[1]: row for row in book.iter_rows(min_row=4, values_only=True)}
    assert by_unit["UBND xã Ấp Bắc"][people] == 1200
    assert by_unit["UBND xã Đồng Hòa"][people] == 800

    exported = lead.get(query + "&column=c4&format=csv")
    assert exported.is_streamed and exported.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).removeprefix("\ufeff"))))
    assert {row[1]: Decimal(row[people]) for row in rows[3:]} == {
        "UBND xã Ấp Bắc": 1200, "UBND xã Đồng Hòa": 800}

    exported = lead.get(query + "&column=c4&format=json")
    assert exported.is_streamed
    document = json.loads(exported.get_data(as_text=True))
    assert document["label"] == PROVISIONAL_LABEL and document["header"] == header
    assert {row[1]: Decimal(row[people]) for row in document["rows"]} == {
        "UBND xã Ấp Bắc": 1200, "UBND xã Đồng Hòa": 800}
    # official figures only: the commune that has only sent is not there
    official = lead.get(query.replace("&provisional=1", "") + "&column=c4&format=json")
    assert [row[1] for row in json.loads(official.get_data(as_text=True))["rows"]] == [
        "UBND xã Ấp Bắc"]


def test_the_page_shows_the_first_rows_and_says_the_downloads_hold_them_all(
        app_ctx, session, monkeypatch):
    from app.roles import AGGREGATOR
    from app.views import figures
    from tests import factories
    from tests.test_entry_workflow import Person

    world, _units = _world(session)
    factories.user(session, "khdt.tonghop", world.lead, [AGGREGATOR])
    session.commit()
    monkeypatch.setattr(figures, "SHOWN_ROWS", 1)
    query = (f"/figures/?regime_id={world.regime.id}&period_id={world.period.id}"
             f"&unit_id={world.province.id}&provisional=1")
    lead = Person(app_ctx, "khdt.tonghop")
    page = lead.get(query).get_data(as_text=True)
    body = page.split("<tbody>")[1]
    assert body.split("</tbody>")[0].count("<tr>") == 1
    assert "Trang chỉ hiện 1 dòng đầu" in page
    rows = list(csv.reader(io.StringIO(
        lead.get(query + "&format=csv").get_data(as_text=True).removeprefix("\ufeff"))))
    assert len(rows) - 3 == 2  # both indicators
