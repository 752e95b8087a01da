"""A provincial administrator's first minutes, in a real browser against the real server."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

PROVINCE_COMMITTEE = "UBND tỉnh Đồng Tháp"


def _login(page, username: str, password: str) -> None:
    page.goto("/login/")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(password)
    page.locator("form input[type=submit], form button[type=submit]").first.click()
    page.wait_for_load_state()


def test_login_page_is_vietnamese(page, tmp_path):
    page.goto("/login/")
    page.screenshot(path=str(tmp_path / "login.png"))
    body = page.locator("body")
    assert "Đăng nhập" in body.inner_text()
    assert page.get_by_label("Tên đăng nhập").is_visible()
    assert page.get_by_label("Mật khẩu").is_visible()
    assert "Sign In" not in body.inner_text()

    _login(page, "admin", "sai-mat-khau")
    assert "/login" in page.url
    assert "Đăng nhập không thành công. Vui lòng thử lại." in page.locator(".alert").inner_text()


def test_admin_logs_in_and_finds_a_commune_in_the_unit_tree(page, tmp_path):
    from app.demo import DEMO_PASSWORD

    _login(page, "admin", DEMO_PASSWORD)
    assert "/login" not in page.url, page.locator("body").inner_text()[:2000]
    home = page.locator("body").inner_text()
    assert "Xin chào" in home
    page.screenshot(path=str(tmp_path / "home.png"), full_page=False)

    page.get_by_role("link", name="Cây đơn vị").first.click()
    page.wait_for_url(re.compile(r"/units/tree/"))
    tree = page.locator(".unit-tree")
    committee = tree.locator("a.unit-name", has_text=PROVINCE_COMMITTEE).first
    assert committee.is_visible()

    communes = tree.locator("a.unit-name", has_text=re.compile(r"^UBND (xã|phường|đặc khu) "))
    assert communes.count() > 50
    first_commune = communes.first
    if not first_commune.is_visible():
        page.get_by_role("button", name="Mở tất cả").click()
    assert first_commune.is_visible()
    page.get_by_role("button", name="Thu gọn").click()
    assert not first_commune.is_visible()

    page.get_by_placeholder("Lọc theo tên hoặc mã đơn vị").fill("Mỹ Tho")
    my_tho = tree.locator("a.unit-name", has_text="phường Mỹ Tho")
    my_tho.first.wait_for(state="visible")
    assert my_tho.first.inner_text().strip() == "UBND phường Mỹ Tho"
    hidden_example = tree.locator("a.unit-name", has_text="Sở Tài chính").first
    assert not hidden_example.is_visible()
    page.screenshot(path=str(tmp_path / "unit-tree-filtered.png"), full_page=False)

    page.get_by_placeholder("Lọc theo tên hoặc mã đơn vị").fill("")
    page.get_by_role("button", name="Mở tất cả").click()
    page.screenshot(path=str(tmp_path / "unit-tree.png"), full_page=False)
    print(f"Ảnh chụp màn hình: {tmp_path}")


def test_english_is_one_click_away(page, tmp_path):
    from app.demo import DEMO_PASSWORD

    page.goto("/login/")
    page.locator("a.dropdown-toggle:has(i.flag)").click()
    page.get_by_role("link", name=re.compile("English")).click()
    page.wait_for_load_state()
    page.goto("/login/")
    assert "Sign In" in page.locator("body").inner_text()
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.locator("form input[type=submit], form button[type=submit]").first.click()
    page.wait_for_load_state()
    navbar = page.locator(".navbar").inner_text()
    for wording in ("Security", "Unit", "Indicators", "Reporting regimes", "Accounts"):
        assert wording in navbar
    page.goto("/units/tree/")
    assert "Unit tree" in page.locator("h2").first.inner_text()
    assert page.get_by_role("button", name="Expand all").is_visible()
    page.screenshot(path=str(tmp_path / "unit-tree-en.png"), full_page=False)
