"""The offline round trip on the entry page: download the pre-filled workbook, fill it in Excel,
upload it back; all values land, or none when any cell is wrong."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import openpyxl
from sqlalchemy import func, select

from app.models import Period, Regime, ReportValue
from app.reports import get_or_create_report, load_values, publish_form_version, save_values
from app.roles import DATA_ENTRY
from app.specs.loader import load_spec
from tests import factories

TEMPLATE = Path(__file__).parent / "data" / "templates" / "ktxh_thang.xlsx"


def _world(session):
    province = factories.unit(session, "UBND tỉnh", type_code="province_committee")
    commune = factories.unit(session, "UBND xã Một", parent=province, type_code="commune")
    regime = Regime(code="KTXH", name="Báo cáo KTXH tháng", owner_unit=province,
                    lead_unit=province, receiving_unit=province)
    period = Period(regime=regime, frequency="month", year=2026, number=11, label="Tháng 11/2026",
                    cutoff_start=dt.date(2026, 10, 15), cutoff_end=dt.date(2026, 11, 14),
                    deadline=dt.date(2026, 11, 19))
    session.add_all([regime, period])
    data = TEMPLATE.read_bytes()
    spec = load_spec(data, filename=TEMPLATE.name, code="KTXH-B01")
    publish_form_version(session, spec, regime=regime, source_workbook=data)
    report = get_or_create_report(session, period, commune, "KTXH-B01")
    factories.user(session, "nhaplieu", commune, [DATA_ENTRY])
    session.commit()
    return report, spec


def _numeric_entry_cells(spec):
    return [c for c in spec.entry_cells if c.type in ("number", "integer", "decimal")]


def test_download_fill_upload_lands_every_value(client, session):
    report, spec = _world(session)
    first, second = _numeric_entry_cells(spec)[:2]
    save_values(session, report, {first.key: "12"})
    session.commit()
    factories.login(client, "nhaplieu")
    download = client.get(f"/entry/{report.id}/workbook")
    assert download.status_code == 200
    assert "attachment" in download.headers["Content-Disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(download.data))
    assert workbook[first.sheet][first.cell].value == 12  # pre-filled with the stored value
    workbook[second.sheet][second.cell].value = 345.5
    filled = io.BytesIO()
    workbook.save(filled)
    response = client.post(
        f"/entry/{report.id}/workbook",
        data={"file": (io.BytesIO(filled.getvalue()), "ktxh_da_dien.xlsx")},
        content_type="multipart/form-data", follow_redirects=True,
    )
    assert "Đã nạp tệp Excel" in response.get_data(as_text=True)
    session.expire_all()
    values = load_values(session, report)
    assert values[first.key] == Decimal("12") and values[second.key] == Decimal("345.5")


def test_a_wrong_cell_stores_nothing_and_says_where(client, session):
    report, spec = _world(session)
    first, second = _numeric_entry_cells(spec)[:2]
    factories.login(client, "nhaplieu")
    workbook = openpyxl.load_workbook(io.BytesIO(client.get(f"/entry/{report.id}/workbook").data))
    workbook[first.sheet][first.cell].value = 10
    workbook[second.sheet][second.cell].value = "mười hai"
    filled = io.BytesIO()
    workbook.save(filled)
    response = client.post(
        f"/entry/{report.id}/workbook",
        data={"file": (io.BytesIO(filled.getvalue()), "sai.xlsx")},
        content_type="multipart/form-data", follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "chưa lưu số liệu nào" in page
    row = "".join(ch for ch in second.cell if ch.isdigit())
    assert f"dòng {row}" in page and "mười hai" in page
    count = session.scalar(select(func.count()).select_from(ReportValue))
    assert count == 0


def test_a_file_that_is_not_a_workbook_is_refused(client, session):
    report, _spec = _world(session)
    factories.login(client, "nhaplieu")
    response = client.post(
        f"/entry/{report.id}/workbook",
        data={"file": (io.BytesIO(b"STT;Chi tieu\n1;2\n"), "bao_cao.xlsx")},
        content_type="multipart/form-data", follow_redirects=True,
    )
    assert response.status_code == 200
    assert session.scalar(select(func.count()).select_from(ReportValue)) == 0
    assert "xlsx" in response.get_data(as_text=True).lower()


def test_the_entry_page_offers_the_offline_round_trip(client, session):
    report, _spec = _world(session)
    factories.login(client, "nhaplieu")
    page = client.get(f"/entry/{report.id}").get_data(as_text=True)
    assert f'href="/entry/{report.id}/workbook"' in page
    assert f'action="/entry/{report.id}/workbook"' in page


def test_built_in_forms_keep_their_workbook_for_offline_filling(session):
    from app.models import FormVersion
    from app.specs.builtin import load_builtin_specs

    first = load_builtin_specs(session)
    session.commit()
    again = load_builtin_specs(session)
    assert [item.created for item in first] == [True] * len(first)
    assert [item.created for item in again] == [False] * len(again)
    version = session.scalars(select(FormVersion).where(FormVersion.code == "KTXH-B01")).one()
    assert version.builtin and version.source_workbook[:2] == b"PK"
