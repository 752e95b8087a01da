"""A commune clerk fills this month's KTXH-B01 report in a real browser against the real server."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

CLERK = "xa28321.nhaplieu"  # data entry of a demo commune (UBND xã Tân Phước 1)


def _login(page, username: str, password: str) -> None:
    page.goto("/login/")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(password)
    page.locator("form input[type=submit], form button[type=submit]").first.click()
    page.wait_for_load_state()


def _cell(page, address: str):
    return page.locator(f'.entry-input[data-cell="{address}"]')


def _total(page, address: str):
    return page.locator(f'td.cell-computed[data-cell="{address}"] output')


def test_clerk_types_sees_live_total_saves_and_finds_the_values_again(page, tmp_path):
    from app.demo import DEMO_PASSWORD

    _login(page, CLERK, DEMO_PASSWORD)
    assert "/login" not in page.url, page.locator("body").inner_text()[:2000]
    page.goto("/reports/list/")
    listing = page.locator("body").inner_text()
    if "KTXH-B01" not in listing:
        pytest.skip("Dữ liệu mẫu chưa có báo cáo KTXH-B01 (thiếu form_specs/ktxh_thang.yaml?)")
    page.locator("a.entry-link").first.click()
    page.wait_for_url(re.compile(r"/entry/\d+"))
    page.wait_for_function("window.ReportEntry !== undefined")

    table = page.locator("table.entry-table")
    assert "Kế hoạch năm" in table.locator("thead").inner_text()
    assert table.locator("td.cell-stt", has_text="1.1").count() == 1

    # two cells that feed a sum (D22 = D23 + D24): the grey total follows the typing
    _cell(page, "D23").click()
    page.keyboard.type("1.234,5")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.cell") == "D24"
    page.keyboard.type("100")
    assert _total(page, "D22").inner_text() == "1.334,50"  # the form shows two decimals
    assert page.locator("#entry-dirty").is_visible()

    # a block copied from Excel fills the cells it covers
    _cell(page, "E23").focus()
    page.evaluate(
        """() => {
            const data = new DataTransfer();
            data.setData('text/plain', '10\\t20\\r\\n30\\t40\\r\\n');
            document.activeElement.dispatchEvent(
                new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));
        }"""
    )
    assert [_cell(page, a).input_value() for a in ("E23", "F23", "E24", "F24")] == [
        "10", "20", "30", "40"
    ]
    assert _total(page, "E22").inner_text() == "40,00"
    assert _total(page, "F22").inner_text() == "60,00"
    page.screenshot(path=str(tmp_path / "entry-typing.png"), full_page=False)

    page.get_by_role("button", name="Lưu nháp").click()
    status = page.locator("#entry-status")
    status.wait_for(state="visible")
    assert "Đã lưu 6 ô" in status.inner_text(), status.inner_text()

    page.reload()
    page.wait_for_function("window.ReportEntry !== undefined")
    assert _cell(page, "D23").input_value() == "1.234,5"
    assert _cell(page, "D24").input_value() == "100"
    assert _total(page, "D22").inner_text() == "1.334,50"  # the form shows two decimals
    assert _total(page, "F22").inner_text() == "60,00"

    page.screenshot(path=str(tmp_path / "entry-saved.png"), full_page=False)

    # a problem is shown next to its cell and in the summary, whose link goes to the cell
    _cell(page, "E12").fill("khoảng 5")
    page.get_by_role("button", name="Kiểm tra").click()
    summary = page.locator("#entry-summary")
    summary.wait_for(state="visible")
    assert "«khoảng 5» không phải là số" in summary.inner_text()
    assert page.locator('td.has-problem .entry-input[data-cell="E12"]').count() == 1
    page.screenshot(path=str(tmp_path / "entry-problems.png"), full_page=False)
    _cell(page, "D23").focus()
    summary.locator("a", has_text="khoảng 5").click()
    assert page.evaluate("document.activeElement.dataset.cell") == "E12"
    print(f"Ảnh chụp màn hình: {tmp_path}")
