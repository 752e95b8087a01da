"""The report list and the entry page: drawn from the spec, saving, validating, attachments."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from decimal import Decimal

import pytest

from app.models import Period, Regime, ReportAttachment
from app.reports import (
    get_or_create_report,
    load_values,
    publish_form_version,
    values_with_computed,
)
from app.roles import DATA_ENTRY, VIEWER
from tests import factories
from tests.spec_fixtures import small_spec


def _world(session, report_kind="numeric"):
    province = factories.unit(session, "UBND tỉnh", type_code="province_committee")
    commune = factories.unit(session, "UBND xã Một", parent=province, type_code="commune")
    other = factories.unit(session, "UBND xã Hai", parent=province, type_code="commune")
    regime = Regime(code="KTXH", name="Báo cáo KTXH tháng", owner_unit=province,
                    lead_unit=province, receiving_unit=province, report_kind=report_kind,
                    reporting_units=[commune, other])
    session.add(regime)
    period = Period(regime=regime, frequency="month", year=2026, number=11, label="Tháng 11/2026",
                    cutoff_start=dt.date(2026, 10, 15), cutoff_end=dt.date(2026, 11, 14),
                    deadline=dt.date(2026, 11, 19))
    session.add(period)
    publish_form_version(session, small_spec(), regime=regime)
    report = get_or_create_report(session, period, commune, "TEST-B01")
    factories.user(session, "nhaplieu", commune, [DATA_ENTRY])
    factories.user(session, "xem", commune, [VIEWER])
    factories.user(session, "nguoikhac", other, [DATA_ENTRY])
    session.commit()
    return report


def _save(client, report, changes, base=None):
    return client.post(f"/entry/{report.id}/save", json={"changes": changes, "base": base or {}})


def test_the_page_draws_the_form_like_the_paper(client, session):
    report = _world(session)
    factories.login(client, "nhaplieu")
    page = client.get(f"/entry/{report.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for header in ("Kế hoạch năm", "Thực hiện tháng", "Tổng", "STT"):
        assert f">{header}</th>" in html
    assert re.search(r'<td class="cell-stt">1</td>', html)
    assert re.search(r'<td class="cell-stt">2</td>', html)
    assert "Dân số" in html and "người" in html
    assert re.search(r'<input[^>]*data-key="r5\|c3"[^>]*inputmode="decimal"|'
                     r'<input[^>]*inputmode="decimal"[^>]*data-key="r5\|c3"', html)
    assert re.search(r'<textarea[^>]*data-key="r7\|c3"', html)
    computed = re.search(r'<td class="cell-computed" data-key="r5\|c5"[^>]*>', html)
    assert computed and "= C5+D5" in computed.group(0)
    assert 'data-key="r5|c5"' not in re.sub(r'<td class="cell-computed"[^>]*>', "", html)
    assert "Lưu nháp" in html and "Kiểm tra" in html
    assert "js/entry.js" in html and "js/formulas.js" in html
    assert 'name="csrf-token"' in html


def test_the_list_links_each_report_to_its_entry_page(client, session):
    report = _world(session)
    factories.login(client, "nhaplieu")
    html = client.get("/reports/list/").get_data(as_text=True)
    assert "TEST-B01" in html and "Tháng 11/2026" in html and "Đang nhập" in html
    assert f'href="/entry/{report.id}"' in html


def test_saving_stores_vietnamese_numbers_and_ignores_client_totals(client, session):
    report = _world(session)
    factories.login(client, "nhaplieu")
    response = _save(client, report, {"r6|c3": "1.234,5", "r5|c3": "1.000", "r5|c4": "23",
                                      "r5|c5": "999999", "r7|c3": "Đã rà soát"})
    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_json()
    assert data["saved"] == 4 and data["revision"] == 1
    assert data["ignored"] == ["r5|c5"]
    assert data["values"]["r5|c5"] == "1.023"
    session.expire_all()
    stored = load_values(session, report)
    assert "r5|c5" not in stored  # totals are derived on the server, never stored
    values = values_with_computed(report.form_version.spec(), stored)
    assert values["r6|c3"] == Decimal("1234.5")
    assert values["r5|c5"] == Decimal("1023")  # recomputed on the server, not the 999999 sent
    assert values["r7|c3"] == "Đã rà soát"
    page = client.get(f"/entry/{report.id}").get_data(as_text=True)
    assert 'value="1.234,5"' in page
    assert ">1.023</output>" in page


def test_warnings_name_the_cell_and_a_conflict_answers_409(client, session):
    report = _world(session)
    factories.login(client, "nhaplieu")
    warned = _save(client, report, {"r5|c4": "khoảng 12"}).get_json()
    assert warned["warnings"][0]["key"] == "r5|c4"
    assert "không phải là số" in warned["warnings"][0]["message"]
    _save(client, report, {"r5|c3": "10"})
    # someone else saves 20 while this person still sees 10, then this person types 30
    _save(client, report, {"r5|c3": "20"}, base={"r5|c3": "10"})
    conflict = _save(client, report, {"r5|c3": "30"}, base={"r5|c3": "10"})
    assert conflict.status_code == 409
    assert conflict.get_json()["keys"] == ["r5|c3"]
    assert "người khác sửa" in conflict.get_json()["message"]
    session.expire_all()
    assert load_values(session, report)["r5|c3"] == Decimal("20")


def test_validate_names_each_problem_and_its_cell(client, session):
    report = _world(session)
    factories.login(client, "nhaplieu")
    response = client.post(f"/entry/{report.id}/validate",
                           json={"values": {"r5|c4": "-3", "r6|c3": "abc"}})
    data = response.get_json()
    assert response.status_code == 200 and data["ok"] is False
    by_key = {p["key"]: p for p in data["problems"]}
    assert by_key["r5|c3"]["message"] == "chưa nhập (bắt buộc)"
    assert by_key["r5|c3"]["cell"] == "C5" and "dòng 5" in by_key["r5|c3"]["where"]
    assert "nhỏ hơn" in by_key["r5|c4"]["message"]
    assert "không phải là số" in by_key["r6|c3"]["message"]
    fine = client.post(f"/entry/{report.id}/validate", json={"values": {"r5|c3": "5"}}).get_json()
    assert fine["ok"] is True


def test_another_units_report_is_not_found(client, session):
    report = _world(session)
    factories.login(client, "nguoikhac")
    assert client.get(f"/entry/{report.id}").status_code == 404
    assert _save(client, report, {"r5|c3": "1"}).status_code == 404
    assert "TEST-B01" not in client.get("/reports/list/").get_data(as_text=True)


def test_a_viewer_reads_but_cannot_save(client, session):
    report = _world(session)
    factories.login(client, "xem")
    html = client.get(f"/entry/{report.id}").get_data(as_text=True)
    assert "Lưu nháp" not in html and "Chỉ xem" in html
    assert re.search(r'<input[^>]*data-key="r5\|c3"[^>]*readonly', html)
    assert _save(client, report, {"r5|c3": "1"}).status_code in (302, 403)


def test_a_submitted_report_is_read_only(client, session):
    report = _world(session)
    report.state = "submitted"
    session.commit()
    factories.login(client, "nhaplieu")
    html = client.get(f"/entry/{report.id}").get_data(as_text=True)
    assert "Lưu nháp" not in html
    assert _save(client, report, {"r5|c3": "1"}).status_code == 403


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def test_attachments_are_checked_by_extension_and_content(client, session):
    report = _world(session, report_kind="narrative")
    factories.login(client, "nhaplieu")
    page = client.get(f"/entry/{report.id}").get_data(as_text=True)
    assert "Tệp đính kèm" in page

    def upload(name, data):
        return client.post(f"/entry/{report.id}/attachments",
                           data={"file": (io.BytesIO(data), name)},
                           content_type="multipart/form-data", follow_redirects=True)

    refused = upload("bao-cao.pdf", b"MZ\x90\x00 not a pdf").get_data(as_text=True)
    assert "không phải PDF" in refused
    assert "Chỉ nhận tệp PDF, DOCX hoặc XLSX" in upload("virus.exe", b"MZ").get_data(as_text=True)
    assert "không phải DOCX" in upload("gia.docx", b"%PDF-1.4 fake").get_data(as_text=True)
    assert session.query(ReportAttachment).count() == 0

    accepted = upload("Báo cáo tháng.pdf", b"%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\n%%EOF\n")
    assert "Đã đính kèm tệp" in accepted.get_data(as_text=True)
    assert upload("thuyet-minh.docx", _docx()).status_code == 200
    attachments = session.query(ReportAttachment).order_by(ReportAttachment.id).all()
    assert [a.filename for a in attachments] == ["Báo cáo tháng.pdf", "thuyet-minh.docx"]
    download = client.get(f"/entry/{report.id}/attachments/{attachments[0].id}")
    assert download.status_code == 200 and download.data.startswith(b"%PDF-")


def test_a_numeric_report_takes_no_attachments(client, session):
    report = _world(session)
    factories.login(client, "nhaplieu")
    assert "Tệp đính kèm" not in client.get(f"/entry/{report.id}").get_data(as_text=True)
    response = client.post(f"/entry/{report.id}/attachments",
                           data={"file": (io.BytesIO(b"%PDF-1.4"), "a.pdf")},
                           content_type="multipart/form-data", follow_redirects=True)
    assert "không nhận tệp đính kèm" in response.get_data(as_text=True)


@pytest.mark.parametrize("size_mb", [11])
def test_an_attachment_over_the_limit_is_refused(client, session, size_mb):
    report = _world(session, report_kind="linked")
    factories.login(client, "nhaplieu")
    data = b"%PDF-1.4\n" + b"0" * (size_mb * 1024 * 1024)
    response = client.post(f"/entry/{report.id}/attachments",
                           data={"file": (io.BytesIO(data), "lon.pdf")},
                           content_type="multipart/form-data", follow_redirects=True)
    assert "lớn hơn 10 MB" in response.get_data(as_text=True)


def test_narrative_blocks_are_multi_line_text_that_is_saved(client, session):
    from app.specs.model import NarrativeBlock
    from tests.spec_fixtures import SHEET

    spec = small_spec(code="TEST-N01")
    spec.narrative_blocks = [NarrativeBlock(sheet=SHEET, range="A10:E15", key="tinh_hinh",
                                            label="Tình hình kinh tế - xã hội", required=True)]
    report = _world(session)
    publish_form_version(session, spec, regime=report.regime)
    narrative = get_or_create_report(session, report.period, report.unit, "TEST-N01")
    session.commit()
    factories.login(client, "nhaplieu")
    html = client.get(f"/entry/{narrative.id}").get_data(as_text=True)
    assert "Tình hình kinh tế - xã hội" in html
    assert re.search(r'<textarea[^>]*data-key="tinh_hinh"', html)
    problems = client.post(f"/entry/{narrative.id}/validate", json={}).get_json()["problems"]
    assert any(p["key"] == "tinh_hinh" for p in problems)
    text = "Sản xuất lúa ổn định.\nThu ngân sách đạt kế hoạch."
    saved = _save(client, narrative, {"tinh_hinh": text}, base={"tinh_hinh": ""})
    assert saved.status_code == 200 and saved.get_json()["saved"] == 1
    session.expire_all()
    assert load_values(session, narrative)["tinh_hinh"] == text
    stale = _save(client, narrative, {"tinh_hinh": "Khác"}, base={"tinh_hinh": ""})
    assert stale.status_code == 409 and stale.get_json()["keys"] == ["tinh_hinh"]


def test_the_browser_reads_and_writes_numbers_like_the_server():
    import json
    import shutil
    import subprocess
    from pathlib import Path

    from app.formatting import format_number
    from app.numbers import NotANumber, parse_number

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    js = Path(__file__).resolve().parent.parent / "app" / "static" / "js"
    typed = ["1.234,5", "1234,5", "1.234.567", "12.5", "-12,3%", "(5)", " 7 000 ", "1,2,3", "abc",
             "", "0,001", "1.23"]
    numbers = [[1234567.5, None], [1334.5, 2], [-0.5, None], [2.345, 2], [0.1 + 0.2, None],
               [1000000, None], [-1234.567, 1]]
    script = (
        "global.window = global; global.document = {getElementById: () => null};"
        f"require({json.dumps(str(js / 'formulas.js'))});"
        f"require({json.dumps(str(js / 'entry.js'))});"
        f"const typed = {json.dumps(typed)}; const numbers = {json.dumps(numbers)};"
        "console.log(JSON.stringify({"
        " parsed: typed.map(t => { const n = window.EntryNumbers.parse(t);"
        "   return n === null ? null : (Number.isNaN(n) ? 'NaN' : n); }),"
        " formatted: numbers.map(([n, d]) => window.EntryNumbers.format(n, d))}));"
    )
    out = json.loads(subprocess.run([node, "-e", script], capture_output=True, text=True,
                                    check=True, timeout=30).stdout)

    def server(text):
        try:
            value = parse_number(text)
        except NotANumber:
            return "NaN"
        return None if value is None else float(value)

    expected = [server(t) for t in typed]
    assert [p if isinstance(p, (str, type(None))) else pytest.approx(p) for p in out["parsed"]] \
        == expected
    assert out["formatted"] == [format_number(round(n, 8) if d is None else n, d)
                                for n, d in numbers]


def test_headers_naming_a_period_read_for_the_report_period(client, session):
    from app.specs.mapping import apply_header_templates
    from tests.spec_fixtures import small_spec

    report = _world(session)
    spec = small_spec(code="TEST-B09")
    spec.sheets[0].tables[0].columns[3].header_path = ["Thực hiện tháng 10/2026"]
    spec.sheets[0].tables[0].columns[2].header_path = ["Kế hoạch năm 2026"]
    assert apply_header_templates(spec) == 2
    publish_form_version(session, spec, regime=report.regime)
    period = report.period
    period_report = get_or_create_report(session, period, report.unit, "TEST-B09")
    session.commit()
    factories.login(client, "nhaplieu")
    html = client.get(f"/entry/{period_report.id}").get_data(as_text=True)
    assert "Thực hiện tháng 11/2026" in html and "Thực hiện tháng 10/2026" not in html
    assert "Kế hoạch năm 2026" in html
