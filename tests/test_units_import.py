"""Units file import: per-row errors, no partial writes, updates, scope of a unit admin."""

from __future__ import annotations

import io

from openpyxl import Workbook
from sqlalchemy import func, select

from app.imports.units_file import import_units
from app.models import Unit
from tests import factories

HEADER = ["Tên đơn vị", "Tên viết tắt", "Loại đơn vị", "Mã hành chính", "Mã nội bộ", "Đơn vị cấp trên", "Hiệu lực từ", "Hiệu lực đến", "Đang hoạt động"]


def workbook(rows, header=HEADER, title_rows=1) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "Đơn vị"
    for _ in range(title_rows):
        ws.append(["DANH MỤC ĐƠN VỊ"])
    ws.append(header)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def count(session) -> int:
    return session.scalar(select(func.count(Unit.id)))


def setup_types(session):
    factories.unit_type(session, "province", "UBND tỉnh")
    factories.unit_type(session, "department", "Sở, ban, ngành")
    factories.unit_type(session, "commune", "Xã, phường")
    session.commit()


def test_creates_tree_with_parent_defined_in_file(session):
    setup_types(session)
    data = workbook([
        ["UBND tỉnh Đồng Tháp", "UBND tỉnh", "province", 82, "TINH", None, "01/07/2025", None, "Có"],
        ["Sở Y tế", "SYT", "Sở, ban, ngành", None, "SYT", "TINH", None, None, None],
        ["Xã Tân Hội", None, "xa, phuong", "30001", None, "UBND tỉnh Đồng Tháp", None, None, "x"],
    ])
    result = import_units(session, io.BytesIO(data), "donvi.xlsx", dry_run=True)
    assert result.ok, [str(e) for e in result.errors]
    assert [r.action for r in result.rows] == ["create"] * 3
    assert count(session) == 0

    result = import_units(session, io.BytesIO(data), "donvi.xlsx", dry_run=False)
    assert result.ok and result.written
    province = session.scalar(select(Unit).where(Unit.internal_code == "TINH"))
    health = session.scalar(select(Unit).where(Unit.internal_code == "SYT"))
    commune = session.scalar(select(Unit).where(Unit.admin_code == "30001"))
    assert province.admin_code == "82" and province.valid_from.isoformat() == "2025-07-01"
    assert health.parent_id == province.id and health.path.startswith(province.path)
    assert commune.parent_id == province.id and commune.unit_type.code == "commune"

    # Importing again updates rather than duplicates.
    again = workbook([["Sở Y tế tỉnh Đồng Tháp", "SYT", "department", None, "SYT", "TINH", None, None, "Không"]])
    result = import_units(session, io.BytesIO(again), "donvi.xlsx", dry_run=False)
    assert result.ok and [r.action for r in result.rows] == ["update"]
    session.expire_all()
    assert count(session) == 3
    health = session.scalar(select(Unit).where(Unit.internal_code == "SYT"))
    assert health.name == "Sở Y tế tỉnh Đồng Tháp" and health.active is False


def test_row_errors_write_nothing(session):
    setup_types(session)
    factories.unit(session, "Có sẵn", type_code="department", internal_code="CS", admin_code="11111")
    session.commit()
    before = count(session)
    data = workbook([
        ["Đơn vị tốt", None, "department", None, "OK1", None, None, None, None],  # row 3
        [None, None, "department", None, "X1", None, None, None, None],  # row 4: no name
        ["Loại lạ", None, "galaxy", None, None, None, None, None, None],  # row 5
        ["Cha lạ", None, "department", None, None, "KHONGCO", None, None, None],  # row 6
        ["Trùng mã", None, "department", None, "OK1", None, None, None, None],  # row 7
        ["Ngày sai", None, "department", None, None, None, "31/02/2025", None, None],  # row 8
        ["Mã sai", None, "commune", "123", None, None, None, None, None],  # row 9
        ["Mã DB", None, "commune", "11111", "KHAC", None, None, None, None],  # row 10 (matches CS by admin code, KHAC is new)
    ])
    result = import_units(session, io.BytesIO(data), "donvi.xlsx", dry_run=False)
    assert not result.written
    by_row = {e.row: e for e in result.errors}
    assert set(by_row) == {4, 5, 6, 7, 8, 9}, [str(e) for e in result.errors]
    assert by_row[4].column == "A" and "Thiếu tên" in by_row[4].message
    assert by_row[5].column == "C" and "galaxy" in by_row[5].message
    assert by_row[6].column == "F" and "KHONGCO" in by_row[6].message
    assert by_row[7].column == "E" and "dòng 3" in by_row[7].message
    assert by_row[8].column == "G"
    assert by_row[9].column == "D" and "5 chữ số" in by_row[9].message
    assert "Trang «Đơn vị», dòng 4, cột A" in str(by_row[4])
    assert count(session) == before


def test_code_belonging_to_another_unit(session):
    setup_types(session)
    factories.unit(session, "A", internal_code="A1", admin_code="11111")
    factories.unit(session, "B", internal_code="B1", admin_code="22222")
    session.commit()
    data = workbook([["A mới", None, "department", "22222", "A1", None, None, None, None]])
    result = import_units(session, io.BytesIO(data), "donvi.xlsx", dry_run=False)
    assert [e.row for e in result.errors] == [3]
    assert "đã thuộc đơn vị «B»" in result.errors[0].message


def test_csv_with_semicolon_and_bom(session):
    setup_types(session)
    text = "\ufefften don vi;LOAI DON VI;ma noi bo;don vi cap tren\nUBND tỉnh;province;T;\nSở Tài chính;department;STC;T\n"
    result = import_units(session, io.BytesIO(text.encode("utf-8")), "dv.csv", dry_run=False)
    assert result.ok, [str(e) for e in result.errors]
    assert count(session) == 2


def test_unit_admin_scope(session):
    setup_types(session)
    province = factories.unit(session, "Tỉnh", type_code="province", internal_code="T")
    dept = factories.unit(session, "Sở Y tế", parent=province, internal_code="SYT")
    other = factories.unit(session, "Sở Tài chính", parent=province, internal_code="STC")
    session.commit()
    data = workbook([
        ["Phòng Kế hoạch", None, "department", None, "SYT-KH", "SYT", None, None, None],  # inside
        ["Phòng con", None, "department", None, None, "SYT-KH", None, None, None],  # inside, parent in file
        ["Phòng ngoài", None, "department", None, None, "STC", None, None, None],  # outside
        ["Đơn vị gốc", None, "department", None, None, None, None, None, None],  # root: outside
        ["Sở Tài chính mới", None, "department", None, "STC", None, None, None, None],  # update outside
    ])
    result = import_units(session, io.BytesIO(data), "dv.xlsx", dry_run=False, actor_scope_unit=dept)
    assert sorted(e.row for e in result.errors) == [5, 6, 7], [str(e) for e in result.errors]
    assert all("phạm vi quản lý" in e.message for e in result.errors)
    assert count(session) == 3
    ok = workbook([["Phòng Kế hoạch", None, "department", None, "SYT-KH", "SYT", None, None, None]])
    result = import_units(session, io.BytesIO(ok), "dv.xlsx", dry_run=False, actor_scope_unit=dept)
    assert result.written and count(session) == 4
    assert other.name == "Sở Tài chính"


def test_missing_header_is_a_file_error(session):
    result = import_units(session, io.BytesIO(workbook([["x"]], header=["Cột lạ"])), "dv.xlsx", dry_run=True)
    assert not result.ok and "Tên đơn vị" in result.errors[0].message


def test_cli(session, app_ctx, tmp_path):
    setup_types(session)
    good = tmp_path / "dv.xlsx"
    good.write_bytes(workbook([["UBND tỉnh", None, "province", "82", "T", None, None, None, None]]))
    bad = tmp_path / "sai.xlsx"
    bad.write_bytes(workbook([["Xã lạ", None, "galaxy", None, None, None, None, None, None]]))
    runner = app_ctx.test_cli_runner()
    outcome = runner.invoke(args=["units", "import", str(bad)])
    assert outcome.exit_code == 1 and "dòng 3, cột C" in outcome.output
    outcome = runner.invoke(args=["units", "import", str(good), "--dry-run"])
    assert outcome.exit_code == 0 and count(session) == 0
    outcome = runner.invoke(args=["units", "import", str(good)])
    assert outcome.exit_code == 0, outcome.output
    assert count(session) == 1


def test_web_import(session, client):
    from app.roles import PROVINCIAL_ADMIN

    setup_types(session)
    home = factories.unit(session, "Văn phòng UBND tỉnh", type_code="province", internal_code="VP")
    factories.user(session, "tinh", home, [PROVINCIAL_ADMIN])
    session.commit()
    factories.login(client, "tinh")
    data = workbook([["Sở Nội vụ", "SNV", "department", None, "SNV", "VP", None, None, None]])
    page = client.post("/import/units/", data={"file": (io.BytesIO(data), "dv.xlsx")}, content_type="multipart/form-data")
    assert "Sở Nội vụ" in page.get_data(as_text=True) and count(session) == 1
    done = client.post("/import/units/confirm")
    assert "Đã ghi: 1 tạo mới" in done.get_data(as_text=True)
    assert count(session) == 2
    listing = client.get("/unitview/list/")
    assert "Sở Nội vụ" in listing.get_data(as_text=True)


def test_web_forms_need_csrf_token(session, client):
    from app.roles import PROVINCIAL_ADMIN

    setup_types(session)
    home = factories.unit(session, "Văn phòng", type_code="province", internal_code="VP")
    factories.user(session, "tinh", home, [PROVINCIAL_ADMIN])
    session.commit()
    factories.login(client, "tinh")
    data = workbook([["Sở Nội vụ", None, "department", None, "SNV", "VP", None, None, None]])
    client.application.config["WTF_CSRF_ENABLED"] = True
    try:
        page = client.post("/import/units/", data={"file": (io.BytesIO(data), "dv.xlsx")}, content_type="multipart/form-data")
        assert "Xác nhận ghi vào hệ thống" not in page.get_data(as_text=True)
        client.post("/import/units/confirm")
    finally:
        client.application.config["WTF_CSRF_ENABLED"] = False
    assert count(session) == 1
