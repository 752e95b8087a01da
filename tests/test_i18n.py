"""Vietnamese by default, English on request, and catalogs that cover every string.

The application writes its own strings in Vietnamese; Flask-AppBuilder's are English. The vi
catalog translates FAB's, the en catalog translates the application's (see
app/translations/update_catalogs.py and `make i18n`).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "app" / "translations"


def _load_catalog_tools():
    spec = importlib.util.spec_from_file_location(
        "update_catalogs", TRANSLATIONS / "update_catalogs.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


catalogs = _load_catalog_tools()
catalogs.compile_stale()  # pytest run without `make`: the .mo files are build output


def _page_text(html: str) -> str:
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_login_page_is_vietnamese_by_default(client):
    page = client.get("/login/").get_data(as_text=True)
    text = _page_text(page)
    for wording in ("Đăng nhập", "Tên đăng nhập", "Mật khẩu", "Hủy"):
        assert wording in text
    for english in ("Sign In", "Username", "Password", "Cancel"):
        assert english not in text


def test_language_menu_offers_english_then_vietnamese(client):
    page = client.get("/login/").get_data(as_text=True)
    assert 'href="/lang/en"' in page
    assert "English" in page

    switched = client.get("/lang/en")
    assert switched.status_code == 302

    page = client.get("/login/").get_data(as_text=True)
    text = _page_text(page)
    for wording in ("Sign In", "Username", "Password", "Cancel"):
        assert wording in text
    assert "Đăng nhập" not in text
    assert 'href="/lang/vi"' in page
    assert "Tiếng Việt" in page

    client.get("/lang/vi")
    assert "Đăng nhập" in _page_text(client.get("/login/").get_data(as_text=True))


def test_signed_in_pages_are_vietnamese_then_english(client, session):
    from app.roles import PROVINCIAL_ADMIN
    from tests import factories

    province = factories.unit(session, "UBND tỉnh Đồng Tháp", type_code="province_committee")
    factories.user(session, "admin", province, [PROVINCIAL_ADMIN])
    session.commit()
    factories.login(client, "admin")

    home = _page_text(client.get("/").get_data(as_text=True))
    for wording in ("Bảo mật", "Danh sách người dùng", "Đăng xuất", "Cây đơn vị"):
        assert wording in home
    for english in ("Security", "List Users", "Logout", "Profile"):
        assert english not in home

    units = _page_text(client.get("/unitview/list/").get_data(as_text=True))
    for wording in ("Tìm kiếm", "Thêm bộ lọc", "Thêm mới", "Số bản ghi", "Tên đơn vị"):
        assert wording in units

    client.get("/lang/en")
    home = _page_text(client.get("/").get_data(as_text=True))
    for wording in ("Security", "List Users", "Logout", "Unit tree", "Reporting periods"):
        assert wording in home
    units = _page_text(client.get("/unitview/list/").get_data(as_text=True))
    for wording in ("Search", "Add Filter", "Record Count", "Unit name"):
        assert wording in units


def _read(locale: str):
    return catalogs.read_catalog(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po", locale)


def test_vietnamese_catalog_translates_every_flask_appbuilder_string():
    """A Flask-AppBuilder upgrade that adds strings fails here until they are translated."""
    vi = _read("vi")
    fab = catalogs.fab_msgids()
    assert len(fab) > 150
    missing = [msgid for msgid in fab if msgid not in vi or not vi[msgid].string]
    assert not missing, f"Chưa dịch sang tiếng Việt (chạy `make i18n` rồi dịch): {missing}"


def test_vietnamese_catalog_translates_the_common_screens_naturally():
    vi = _read("vi")
    expected = {
        "Sign In": "Đăng nhập",
        "Login": "Đăng nhập",
        "Username": "Tên đăng nhập",
        "Password": "Mật khẩu",
        "Search": "Tìm kiếm",
        "Add": "Thêm mới",
        "Edit": "Sửa",
        "Delete": "Xóa",
        "Show": "Xem",
        "Back": "Quay lại",
        "Save": "Lưu",
        "Actions": "Thao tác",
        "Security": "Bảo mật",
        "Logout": "Đăng xuất",
        "Added Row": "Đã thêm bản ghi",
        "Invalid login. Please try again.": "Đăng nhập không thành công. Vui lòng thử lại.",
    }
    assert {msgid: vi[msgid].string for msgid in expected} == expected


def test_english_catalog_translates_every_application_string():
    en = _read("en")
    assert len(en) > 100
    missing = [m.id for m in en if m.id and not m.string]
    assert not missing, f"Chưa dịch sang tiếng Anh: {missing}"


def test_catalogs_hold_every_string_the_application_marks():
    """New `_()` / `_l()` strings must be merged (`make i18n`) and translated into English."""
    vi, en = _read("vi"), _read("en")
    fab = set(catalogs.fab_msgids())
    marked = [m.id for m in catalogs.app_template() if m.id and isinstance(m.id, str)]
    assert len(marked) > 50
    not_merged = [msgid for msgid in marked if msgid not in vi]
    no_english = [
        msgid for msgid in marked
        if msgid not in fab and (msgid not in en or not en[msgid].string)
    ]
    assert not not_merged, f"Chưa có trong app/translations (chạy `make i18n`): {not_merged}"
    assert not no_english, f"Chưa dịch sang tiếng Anh (app/translations/en): {no_english}"


@pytest.mark.parametrize("locale", ["vi", "en"])
def test_compiled_catalog_is_current(locale):
    po = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    assert mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime
