"""Account-request sheet import (seed 000, Phụ lục I)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from app.imports.accounts_sheet import (
    import_accounts,
    logins_workbook,
    roles_for_wording,
    split_name,
)
from app.models import AppUser, UserUnitHistory
from app.roles import AGGREGATOR, APPROVER, DATA_ENTRY, PROVINCIAL_ADMIN, SIGNER, UNIT_ADMIN, VIEWER
from tests import factories

SAMPLE = Path(__file__).parent / "data" / "de_nghi_cap_tai_khoan.xlsx"
HEADER = ["STT", "Loại tài khoản/vai trò", "Họ tên", "Đơn vị", "Chức vụ", "Email", "Điện thoại di động"]


def count(session) -> int:
    return session.scalar(select(func.count(AppUser.id)))


def sheet(rows) -> io.BytesIO:
    wb = Workbook()
    ws = wb.active
    ws.title = "Phụ lục I"
    ws.append(["DANH SÁCH ĐỀ NGHỊ CẤP TÀI KHOẢN"])
    ws.append([])
    ws.append(HEADER)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    return out


@pytest.fixture
def units(session):
    province = factories.unit(session, "UBND tỉnh Đồng Tháp", type_code="province", internal_code="TINH")
    health = factories.unit(session, "Sở Y tế", parent=province, internal_code="SYT")
    commune = factories.unit(session, "Xã Tân Hội", parent=province, type_code="commune", admin_code="30001")
    session.commit()
    return {"province": province, "health": health, "commune": commune}


@pytest.mark.parametrize(
    "wording, roles",
    [
        ("Tài khoản Quản trị cấp tỉnh", [PROVINCIAL_ADMIN]),
        ("Tài khoản Quản trị cấp Huyện/Sở (chuyên viên)", [UNIT_ADMIN]),
        ("Tài khoản Tổng hợp cấp Huyện/Sở (lãnh đạo phòng/chuyên viên)", [AGGREGATOR]),
        ("Tài khoản Ký số, gửi báo cáo cấp Huyện/Sở (lãnh đạo sở/huyện)", [APPROVER, SIGNER]),
        ("TÀI KHOẢN NHẬP LIỆU BÁO CÁO", [DATA_ENTRY]),
        ("Nhập liệu; Xem báo cáo", [DATA_ENTRY, VIEWER]),
        ("Văn thư", [SIGNER]),
        ("Bảo vệ", None),
    ],
)
def test_role_wording(wording, roles):
    assert roles_for_wording(wording) == roles


def test_split_name():
    assert split_name("Nguyễn  Văn An") == ("Nguyễn Văn", "An")
    assert split_name("An") == ("", "An")


def test_sample_sheet(session, units):
    before = count(session)
    dry = import_accounts(session, SAMPLE.read_bytes(), SAMPLE.name, dry_run=True)
    assert dry.ok, [str(e) for e in dry.errors]
    assert [r.row for r in dry.rows] == list(range(4, 12))  # the footer block is not data
    assert count(session) == before

    result = import_accounts(session, SAMPLE.read_bytes(), SAMPLE.name, dry_run=False)
    assert result.ok and result.written
    assert count(session) == before + 8
    users = {u.email: u for u in session.scalars(select(AppUser))}
    expected = {
        "nvan@syt.dongthap.gov.vn": {UNIT_ADMIN},
        "ttbich@syt.dongthap.gov.vn": {AGGREGATOR},
        "lhcuong@syt.dongthap.gov.vn": {APPROVER, SIGNER},
        "pmduc@syt.dongthap.gov.vn": {DATA_ENTRY},
        "vten@syt.dongthap.gov.vn": {DATA_ENTRY},
        "dqphong@tanhoi.dongthap.gov.vn": {UNIT_ADMIN},
        "htgiang@tanhoi.dongthap.gov.vn": {DATA_ENTRY},
        "nvhai@tanhoi.dongthap.gov.vn": {APPROVER, SIGNER},
    }
    for email, roles in expected.items():
        assert {r.name for r in users[email].roles} == roles, email
    an = users["nvan@syt.dongthap.gov.vn"]
    assert (an.last_name, an.first_name, an.username) == ("Nguyễn Văn", "An", "nvan")
    assert an.unit_id == units["health"].id and an.must_change_password
    assert users["htgiang@tanhoi.dongthap.gov.vn"].unit_id == units["commune"].id
    phones = {u.email.split("@")[0]: u.mobile_phone for u in users.values()}
    assert phones["nvan"] == "0912345678" and phones["pmduc"] == "0933444555"
    assert phones["ttbich"] == "0987654321" and phones["lhcuong"] == "0903111222"
    history = session.scalars(select(UserUnitHistory).where(UserUnitHistory.user_id == an.id)).all()
    assert len(history) == 1 and history[0].ended_at is None

    logins = {c.username: c for c in result.created}
    assert check_password_hash(an.password, logins["nvan"].password)
    book = load_workbook(io.BytesIO(logins_workbook(result.created)))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0] == ("Họ tên", "Đơn vị", "Tên đăng nhập", "Mật khẩu lần đầu", "Vai trò")
    assert rows[1][:4] == ("Nguyễn Văn An", "Sở Y tế", "nvan", logins["nvan"].password)

    # The same sheet again: every e-mail is already taken; row errors, nothing written.
    again = import_accounts(session, SAMPLE.read_bytes(), SAMPLE.name, dry_run=False)
    assert not again.written and len(again.errors) == 8
    assert all(e.column == "F" and "đã được dùng" in e.message for e in again.errors)
    assert count(session) == before + 8


def test_row_errors_write_nothing(session, units):
    factories.user(session, "cu", units["health"], [DATA_ENTRY], email="cu@x.vn")
    session.commit()
    before = count(session)
    data = sheet([
        ["a", "Đối với cấp sở", None, None, None, None, None],  # row 4: section row, skipped
        [1, "Nhập liệu", "Lê Văn Tốt", "sở y tế", "CV", "tot@x.vn", "0912.345.678"],  # row 5 ok
        [2, "Nhập liệu", "Lê Văn Trùng", "Sở Y tế", "CV", "TOT@x.vn", None],  # row 6 dup in file
        [3, "Nhập liệu", "Lê Văn Cũ", "Sở Y tế", "CV", "cu@x.vn", None],  # row 7 dup in DB
        [4, "Nhập liệu", "Lê Văn Lạc", "Sở Không Có", "CV", "lac@x.vn", None],  # row 8 unknown unit
        [5, "Thủ quỹ", "Lê Văn Lạ", "Sở Y tế", "CV", "la@x.vn", None],  # row 9 unknown role
        [6, "Nhập liệu", None, "Sở Y tế", "CV", None, None],  # row 10 no name, no email
        [7, "Nhập liệu", "Lê Văn Số", "Sở Y tế", "CV", "so@x.vn", "12345"],  # row 11 bad phone
        [None, "III. Cung cấp thông tin cán bộ lập danh sách:", None, None, None, None, None],
    ])
    result = import_accounts(session, data, "ds.xlsx", dry_run=False)
    assert not result.written
    by_row = {}
    for e in result.errors:
        by_row.setdefault(e.row, []).append(e)
    assert set(by_row) == {6, 7, 8, 9, 10, 11}, [str(e) for e in result.errors]
    assert "dòng 5" in by_row[6][0].message
    assert by_row[8][0].column == "D" and "Sở Không Có" in by_row[8][0].message
    assert by_row[9][0].column == "B" and "Thủ quỹ" in by_row[9][0].message
    assert {e.column for e in by_row[10]} == {"C", "F"}
    assert by_row[11][0].column == "G" and by_row[11][0].field == "Điện thoại di động"
    assert "Trang «Phụ lục I», dòng 8, cột D" in str(by_row[8][0])
    assert count(session) == before


def test_ambiguous_unit(session, units):
    factories.unit(session, "Sở Y tế", parent=units["commune"], internal_code="SYT2")
    session.commit()
    result = import_accounts(session, sheet([[1, "Nhập liệu", "A B", "Sở Y tế", None, "ab@x.vn", None]]), "ds.xlsx", dry_run=True)
    assert [e.row for e in result.errors] == [4] and "nhiều đơn vị" in result.errors[0].message
    ok = import_accounts(session, sheet([[1, "Nhập liệu", "A B", "SYT2", None, "ab@x.vn", None]]), "ds.xlsx", dry_run=True)
    assert ok.ok


def test_unit_admin_scope(session, units):
    admin = factories.user(session, "qtsyt", units["health"], [UNIT_ADMIN])
    session.commit()
    before = count(session)
    data = sheet([
        [1, "Quản trị cấp tỉnh", "Trần Tỉnh", "Sở Y tế", None, "tinh@x.vn", None],  # row 4
        [2, "Nhập liệu", "Trần Xã", "Xã Tân Hội", None, "xa@x.vn", None],  # row 5 outside subtree
        [3, "Nhập liệu", "Trần Sở", "Sở Y tế", None, "so@x.vn", None],  # row 6 ok
    ])
    result = import_accounts(session, data, "ds.xlsx", dry_run=False, actor=admin)
    assert sorted(e.row for e in result.errors) == [4, 5]
    assert "chỉ quản trị cấp tỉnh" in result.errors[0].message
    assert "phạm vi quản lý" in result.errors[1].message
    assert count(session) == before
    ok = sheet([[3, "Nhập liệu", "Trần Sở", "Sở Y tế", None, "so@x.vn", None]])
    result = import_accounts(session, ok, "ds.xlsx", dry_run=False, actor=admin)
    assert result.written and count(session) == before + 1


def test_username_collision(session, units):
    factories.user(session, "an", units["health"], [DATA_ENTRY], email="an@other.vn")
    session.commit()
    data = sheet([
        [1, "Nhập liệu", "Văn An", "Sở Y tế", None, "an@x.vn", None],
        [2, "Nhập liệu", "Thị An", "Sở Y tế", None, "an@y.vn", None],
    ])
    result = import_accounts(session, data, "ds.xlsx", dry_run=False)
    assert result.written
    assert sorted(c.username for c in result.created) == ["an2", "an3"]


def test_cli(session, units, app_ctx, tmp_path):
    out = tmp_path / "logins.xlsx"
    runner = app_ctx.test_cli_runner()
    outcome = runner.invoke(args=["accounts", "import", str(SAMPLE), "--dry-run", "--out", str(out)])
    assert outcome.exit_code == 0, outcome.output
    assert not out.exists()
    outcome = runner.invoke(args=["accounts", "import", str(SAMPLE), "--out", str(out)])
    assert outcome.exit_code == 0, outcome.output
    rows = list(load_workbook(out).active.iter_rows(values_only=True))
    assert len([r for r in rows[1:] if r[2]]) == 8
    outcome = runner.invoke(args=["accounts", "import", str(SAMPLE), "--out", str(out)])
    assert outcome.exit_code == 1 and "đã được dùng" in outcome.output


def test_web_import_dry_run_confirm_and_logins(session, units, client):
    factories.user(session, "tinh", units["province"], [PROVINCIAL_ADMIN])
    session.commit()
    factories.login(client, "tinh")
    before = count(session)
    assert client.get("/import/accounts/").status_code == 200
    page = client.post(
        "/import/accounts/",
        data={"file": (io.BytesIO(SAMPLE.read_bytes()), "de_nghi.xlsx")},
        content_type="multipart/form-data",
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Xác nhận ghi vào hệ thống" in html
    assert "nvan@syt.dongthap.gov.vn" in html and "0933444555" in html
    assert count(session) == before
    done = client.post("/import/accounts/confirm")
    html = done.get_data(as_text=True)
    assert done.status_code == 200 and "Đã ghi: 8 tạo mới" in html
    assert count(session) == before + 8
    link = re.search(r'href="(/import/accounts/logins/[^"]+)"', html).group(1)
    download = client.get(link)
    assert download.status_code == 200
    rows = list(load_workbook(io.BytesIO(download.data)).active.iter_rows(values_only=True))
    assert rows[1][2] == "nvan"
    assert client.get(link).status_code == 404  # only once
    # Confirming again has nothing left to confirm.
    again = client.post("/import/accounts/confirm", follow_redirects=True)
    assert "tải tệp lên lại" in again.get_data(as_text=True)
    assert count(session) == before + 8


def test_web_row_errors_shown_nothing_written(session, units, client):
    factories.user(session, "tinh", units["province"], [PROVINCIAL_ADMIN])
    session.commit()
    factories.login(client, "tinh")
    before = count(session)
    data = sheet([[1, "Thủ quỹ", "Lê Văn Lạ", "Sở Y tế", "CV", "la@x.vn", None]])
    page = client.post("/import/accounts/", data={"file": (data, "ds.xlsx")}, content_type="multipart/form-data")
    html = page.get_data(as_text=True)
    assert "Thủ quỹ" in html and "Xác nhận ghi vào hệ thống" not in html
    done = client.post("/import/accounts/confirm")
    assert "chưa ghi" in done.get_data(as_text=True)
    assert count(session) == before


def test_web_unit_admin_cannot_grant_provincial_admin(session, units, client):
    factories.user(session, "qtsyt", units["health"], [UNIT_ADMIN])
    session.commit()
    factories.login(client, "qtsyt")
    data = sheet([[1, "Quản trị cấp tỉnh", "Trần Tỉnh", "Sở Y tế", None, "tinh@x.vn", None]])
    page = client.post("/import/accounts/", data={"file": (data, "ds.xlsx")}, content_type="multipart/form-data")
    assert page.status_code == 200
    assert "chỉ quản trị cấp tỉnh được cấp" in page.get_data(as_text=True)


def test_sections_and_signature_block_are_not_data(session, units):
    data = sheet([
        ["I", "Đối với cấp sở", None, None, None, None, None],
        [1, "Nhập liệu", "Lê Văn Một", "Sở Y tế", "CV", "mot@x.vn", "0912345678"],
        ["II.", "Đối với cấp xã", None, None, None, None, None],
        [2, "Ký số, gửi báo cáo (thủ trưởng đơn vị)", "Lê Văn Hai", "UBND xã Tân Hội", None, "hai@x.vn", None],
        [None, None, None, None, None, None, None],
        [None, None, None, None, "NGƯỜI LẬP", None, "THỦ TRƯỞNG ĐƠN VỊ"],
        [None, None, None, None, "(Ký, ghi rõ họ tên)", None, "(Ký tên, đóng dấu)"],
        [None, None, None, None, "Nguyễn Văn Lập", None, "Trần Văn Trưởng"],
    ])
    result = import_accounts(session, data, "ds.xlsx", dry_run=True)
    assert result.ok, [str(e) for e in result.errors]
    assert [r.row for r in result.rows] == [5, 7]
    assert result.rows[1].values["Vai trò"] == f"{APPROVER}, {SIGNER}"
