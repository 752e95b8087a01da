"""Indicator catalogue import: upsert by code, ratios, groups, per-row errors."""

from __future__ import annotations

import io

from openpyxl import Workbook
from sqlalchemy import func, select

from app.imports.indicators_file import import_indicators
from app.models import Indicator, IndicatorGroup
from tests import factories

HEADER = [
    "Mã chỉ tiêu", "Tên chỉ tiêu", "Đơn vị tính", "Phương pháp tính", "Kiểu giá trị",
    "Tổng hợp theo đơn vị", "Tổng hợp theo thời gian", "Tử số", "Mẫu số", "Nhóm",
    "Đơn vị chịu trách nhiệm", "Hiệu lực từ", "Hiệu lực đến",
]


def workbook(rows) -> io.BytesIO:
    wb = Workbook()
    ws = wb.active
    ws.title = "Chỉ tiêu"
    ws.append(["DANH MỤC CHỈ TIÊU KINH TẾ - XÃ HỘI"])
    ws.append(HEADER)
    for row in rows:
        ws.append(row + [None] * (len(HEADER) - len(row)))
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    return out


def count(session, model=Indicator) -> int:
    return session.scalar(select(func.count(model.id)))


def test_creates_ratio_defined_later_and_groups(session):
    factories.unit(session, "Cục Thống kê", internal_code="CTK")
    session.add(IndicatorGroup(code="DS", name="Dân số"))
    session.commit()
    rows = [
        ["TL01", "Tỷ lệ hộ nghèo", "%", "Hộ nghèo / tổng số hộ × 100", "Tỷ lệ (%)", "Không tổng hợp", "Giá trị kỳ cuối", "HN01", "TH01", "Dân số", "CTK"],
        ["HN01", "Số hộ nghèo", "Hộ", None, "integer", "sum", "last", None, None, "DS", "Cục Thống kê"],
        ["TH01", "Tổng số hộ", "Hộ", None, "Số nguyên", "Cộng", "last", None, None, "Lao động, việc làm", None, "01/01/2026"],
    ]
    dry = import_indicators(session, workbook(rows), "ct.xlsx", dry_run=True)
    assert dry.ok, [str(e) for e in dry.errors]
    assert any("Lao động, việc làm" in n for n in dry.notes)
    assert count(session) == 0 and count(session, IndicatorGroup) == 1

    result = import_indicators(session, workbook(rows), "ct.xlsx", dry_run=False)
    assert result.ok and result.written
    ratio = session.scalar(select(Indicator).where(Indicator.code == "TL01"))
    assert ratio.numerator.code == "HN01" and ratio.denominator.code == "TH01"
    assert ratio.value_type == "percent" and ratio.aggregation_over_units == "none"
    assert ratio.group.code == "DS" and ratio.owner_unit.internal_code == "CTK"
    total = session.scalar(select(Indicator).where(Indicator.code == "TH01"))
    assert total.group.name == "Lao động, việc làm" and total.valid_from.isoformat() == "2026-01-01"
    assert count(session, IndicatorGroup) == 2

    # Upsert by code.
    again = import_indicators(session, workbook([["hn01", "Số hộ nghèo (theo chuẩn mới)", "Hộ"]]), "ct.xlsx", dry_run=False)
    assert again.written and [r.action for r in again.rows] == ["update"]
    session.expire_all()
    assert count(session) == 3
    assert session.scalar(select(Indicator).where(Indicator.code == "HN01")).name.endswith("(theo chuẩn mới)")


def test_row_errors_write_nothing(session):
    rows = [
        ["A1", "Dân số", "Người", None, "integer"],  # row 3 fine
        ["A1", "Trùng", "Người"],  # row 4 duplicate code
        [None, "Không mã"],  # row 5
        ["B1", "Kiểu lạ", None, None, "số phức"],  # row 6
        ["R1", "Tỷ lệ cộng", "%", None, "percent", "sum", "last", "A1", "A1"],  # row 7 ratio summed
        ["R2", "Tử số lạ", "%", None, "percent", "none", "last", "ZZ", "A1"],  # row 8
        ["R3", "Thiếu mẫu số", "%", None, "percent", "none", "last", "A1"],  # row 9
        ["D1", "Ngày sai", None, None, None, None, None, None, None, None, None, "32/13/2025"],  # row 10
        ["O1", "Đơn vị lạ", None, None, None, None, None, None, None, None, "KHONGCO"],  # row 11
    ]
    result = import_indicators(session, workbook(rows), "ct.xlsx", dry_run=False)
    assert not result.written
    by_row = {}
    for e in result.errors:
        by_row.setdefault(e.row, []).append(e)
    assert set(by_row) == {4, 5, 6, 7, 8, 9, 10, 11}, [str(e) for e in result.errors]
    assert "dòng 3" in by_row[4][0].message
    assert by_row[6][0].column == "E" and "số phức" in by_row[6][0].message
    assert by_row[7][0].column == "F" and "không được cộng" in by_row[7][0].message
    assert by_row[8][0].column == "H" and "ZZ" in by_row[8][0].message
    assert "cả tử số và mẫu số" in by_row[9][0].message
    assert by_row[10][0].column == "L"
    assert by_row[11][0].column == "K"
    assert count(session) == 0


def test_unit_admin_scope(session):
    province = factories.unit(session, "Tỉnh", type_code="province", internal_code="T")
    mine = factories.unit(session, "Sở Y tế", parent=province, internal_code="SYT")
    factories.unit(session, "Sở Tài chính", parent=province, internal_code="STC")
    session.commit()
    rows = [
        ["Y1", "Số giường bệnh", "Giường", None, None, None, None, None, None, None, "SYT"],
        ["Y2", "Thu ngân sách", "Tỷ đồng", None, None, None, None, None, None, None, "STC"],
        ["Y3", "Không ghi đơn vị"],
    ]
    result = import_indicators(session, workbook(rows), "ct.xlsx", dry_run=False, actor_scope_unit=mine)
    assert sorted(e.row for e in result.errors) == [4, 5]
    assert count(session) == 0


def test_cli(session, app_ctx, tmp_path):
    path = tmp_path / "ct.xlsx"
    path.write_bytes(workbook([["A1", "Dân số", "Người"]]).getvalue())
    runner = app_ctx.test_cli_runner()
    outcome = runner.invoke(args=["indicators", "import", str(path)])
    assert outcome.exit_code == 0, outcome.output
    assert count(session) == 1


def test_web_import(session, client):
    from app.roles import PROVINCIAL_ADMIN

    home = factories.unit(session, "Sở Kế hoạch", internal_code="SKH")
    factories.user(session, "tinh", home, [PROVINCIAL_ADMIN])
    session.commit()
    factories.login(client, "tinh")
    page = client.post("/import/indicators/", data={"file": (workbook([["A1", "Dân số", "Người"]]), "ct.xlsx")}, content_type="multipart/form-data")
    assert "Dân số" in page.get_data(as_text=True) and count(session) == 0
    done = client.post("/import/indicators/confirm")
    assert "Đã ghi: 1 tạo mới" in done.get_data(as_text=True)
    assert count(session) == 1
