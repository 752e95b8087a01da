"""Entity lists (one row per facility, school, commodity): the unit adds rows, like XLSForm's
repeat; added rows are stored, shown again, and filled in and out of the workbook."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import openpyxl

from app.models import Period, Regime
from app.reports import get_or_create_report, load_values, publish_form_version, save_values
from app.roles import DATA_ENTRY
from app.specs.loader import load_spec
from tests import factories

TEMPLATE = Path(__file__).parent / "data" / "templates" / "real" / "bhxh_pl01_dutoan.xlsx"
SHEET = "PL 01_MỚI"


def _world(session):
    province = factories.unit(session, "UBND tỉnh", type_code="province_committee")
    insurance = factories.unit(session, "Bảo hiểm xã hội tỉnh", parent=province,
                               type_code="central_agency")
    regime = Regime(code="BHXH", name="Dự toán khám chữa bệnh", owner_unit=province,
                    lead_unit=province, receiving_unit=province)
    period = Period(regime=regime, frequency="year", year=2026, number=1, label="Năm 2026",
                    cutoff_start=dt.date(2025, 12, 15), cutoff_end=dt.date(2026, 12, 14),
                    deadline=dt.date(2026, 12, 17))
    session.add_all([regime, period])
    data = TEMPLATE.read_bytes()
    spec = load_spec(data, filename=TEMPLATE.name, code="BHXH-PL01")
    publish_form_version(session, spec, regime=regime, source_workbook=data)
    report = get_or_create_report(session, period, insurance, "BHXH-PL01")
    factories.user(session, "bhxh.nhaplieu", insurance, [DATA_ENTRY])
    session.commit()
    return report


def test_an_added_facility_is_stored_with_its_columns_types(session):
    report = _world(session)
    result = save_values(session, report, {
        f"{SHEET}!row:28|c2": "Trạm y tế xã Mỹ Hiệp", f"{SHEET}!row:28|c3": "1.250",
        f"{SHEET}!row:5|c3": "7",  # above the list's end: not a row that can be added
    })
    session.commit()
    assert result.saved == 2 and result.ignored == [f"{SHEET}!row:5|c3"]
    values = load_values(session, report)
    assert values[f"{SHEET}!row:28|c2"] == "Trạm y tế xã Mỹ Hiệp"
    assert values[f"{SHEET}!row:28|c3"] == Decimal("1250")


def test_the_entry_page_shows_added_rows_and_offers_a_new_one(client, session):
    report = _world(session)
    save_values(session, report, {f"{SHEET}!row:28|c2": "Trạm y tế xã Mỹ Hiệp"})
    session.commit()
    factories.login(client, "bhxh.nhaplieu")
    page = client.get(f"/entry/{report.id}").get_data(as_text=True)
    assert "Trạm y tế xã Mỹ Hiệp" in page
    assert 'class="btn btn-default btn-sm entity-add-row" data-next-row="29"' in page
    assert f'data-key="{SHEET}!row:__N__|c3"' in page  # the template of a new row
    saved = client.post(f"/entry/{report.id}/save",
                        json={"changes": {f"{SHEET}!row:29|c2": "Phòng khám đa khoa khu vực"},
                              "base": {}})
    assert saved.status_code == 200 and saved.get_json()["saved"] == 1


def test_rows_added_in_excel_land_as_added_rows(client, session):
    report = _world(session)
    factories.login(client, "bhxh.nhaplieu")
    workbook = openpyxl.load_workbook(io.BytesIO(client.get(f"/entry/{report.id}/workbook").data))
    sheet = workbook[SHEET]
    sheet["B28"] = "Bệnh viện đa khoa khu vực Tháp Mười"
    sheet["C28"] = 300
    filled = io.BytesIO()
    workbook.save(filled)
    response = client.post(
        f"/entry/{report.id}/workbook",
        data={"file": (io.BytesIO(filled.getvalue()), "bhxh_da_dien.xlsx")},
        content_type="multipart/form-data", follow_redirects=True,
    )
    assert "Đã nạp tệp Excel" in response.get_data(as_text=True)
    session.expire_all()
    values = load_values(session, report)
    assert values[f"{SHEET}!row:28|c2"] == "Bệnh viện đa khoa khu vực Tháp Mười"
    assert values[f"{SHEET}!row:28|c3"] == Decimal("300")


def test_added_rows_go_out_in_the_downloaded_workbook_and_come_back(client, session):
    report = _world(session)
    save_values(session, report, {f"{SHEET}!row:28|c2": "Trạm y tế xã Mỹ Hiệp",
                                  f"{SHEET}!row:28|c3": "42"})
    session.commit()
    factories.login(client, "bhxh.nhaplieu")
    downloaded = client.get(f"/entry/{report.id}/workbook").data
    sheet = openpyxl.load_workbook(io.BytesIO(downloaded))[SHEET]
    assert sheet["B28"].value == "Trạm y tế xã Mỹ Hiệp" and sheet["C28"].value == 42
    from app.specs.workbook_io import read_filled_workbook

    values, problems = read_filled_workbook(downloaded, report.form_version.spec(), "x.xlsx")
    assert [p for p in problems if p.severity == "error"] == []
    assert values[f"{SHEET}!row:28|c3"] == Decimal("42")
