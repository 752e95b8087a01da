"""One report through the reporting cycle in a real browser, each person logging in with their
own account: entry staff fill and submit, the leader rejects with a reason, entry staff submit
again, the leader approves and signs (the stand-in signing tool plays the USB token), the clerk
adds the agency's signature (downloading the PDF, signing it, uploading it) and sends, the lead
agency checks the signed PDF and returns it with a comment on a cell, the unit sees the comment,
corrects, signs and sends again, and the lead agency accepts."""

from __future__ import annotations

import re

import pytest

from tests.browser.signing_steps import sign_as_agency, sign_as_leader

pytestmark = pytest.mark.browser

UNIT = "phuong28261"  # Phường Mỹ Tho: the demo leaves its report as a draft for this walk
UNIT_CODE = "28261"  # the demo's monthly regime asks for both signatures before sending
REVIEWER = "stc.tonghop1"  # aggregator of the lead agency (Sở Tài chính)


def _login(page, username: str) -> None:
    from app.demo import DEMO_PASSWORD

    page.goto("/logout/")
    page.goto("/login/")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(DEMO_PASSWORD)
    page.locator("form input[type=submit], form button[type=submit]").first.click()
    page.wait_for_load_state()
    assert "/login" not in page.url, page.locator("body").inner_text()[:1500]


def _open_report(page, report_url: str) -> None:
    page.goto(report_url)
    page.wait_for_function("window.ReportEntry !== undefined")


def _state(page) -> str:
    return page.locator("#entry-cycle .entry-state").get_attribute("data-state")


def _wait_state(page, state: str) -> None:
    page.wait_for_function(
        "state => { const label = document.querySelector('#entry-cycle .entry-state');"
        " return label !== null && label.dataset.state === state; }", arg=state)


def _click_action(page, label: str) -> None:
    page.locator("#entry-cycle button[type=submit]", has_text=label).first.click()
    page.wait_for_load_state()


def _give_reason(page, action: str, text: str) -> None:
    details = page.locator(f'details.transition-reason[data-action="{action}"]')
    details.locator("summary").click()
    details.locator("textarea[name=reason]").fill(text)


def _sign_and_send(page, report_url: str, server_instance, tmp_path) -> None:
    signing_url = report_url.replace("/entry/", "/signing/report/")
    _login(page, f"{UNIT}.lanhdao")
    _open_report(page, report_url)
    page.locator("a.entry-signing-link").first.click()
    page.wait_for_load_state()
    assert "/signing/report/" in page.url
    sign_as_leader(page, signing_url, server_instance, f"{UNIT}.lanhdao")
    _login(page, f"{UNIT}.vanthu")
    sign_as_agency(page, signing_url, server_instance, UNIT_CODE, tmp_path)
    _open_report(page, report_url)
    _click_action(page, "Ký số và gửi")
    assert _state(page) == "sent", page.locator("body").inner_text()[:1500]


def test_one_report_through_every_screen_of_the_cycle(page, tmp_path, server_instance):
    _login(page, f"{UNIT}.nhaplieu")
    page.goto("/inbox/")
    assert "Việc cần làm" in page.locator("body").inner_text()
    page.goto("/reports/list/")
    page.locator("a.entry-link").first.click()
    page.wait_for_url(re.compile(r"/entry/\d+$"))
    report_url = page.url
    page.wait_for_function("window.ReportEntry !== undefined")
    assert _state(page) == "draft"

    # typed but not saved: the transition saves the cells first
    page.locator('.entry-input[data-cell="D23"]').click()
    page.keyboard.type("1.000")
    _click_action(page, "Trình lãnh đạo duyệt")
    _wait_state(page, "submitted")
    assert "Đã trình lãnh đạo duyệt" in page.locator("body").inner_text()

    _login(page, f"{UNIT}.lanhdao")
    page.goto("/inbox/")
    assert page.locator(f'a[href$="{report_url.rsplit("/", 1)[1]}"]').count() >= 1 or \
        "Mỹ Tho" in page.locator("body").inner_text()
    _open_report(page, report_url)
    _give_reason(page, "reject", "Dòng 23 cần ghi rõ nguồn số liệu")
    page.locator('details[data-action="reject"] button[type=submit]').click()
    page.wait_for_load_state()
    assert _state(page) == "draft"

    _login(page, f"{UNIT}.nhaplieu")
    _open_report(page, report_url)
    assert "Dòng 23 cần ghi rõ nguồn số liệu" in page.locator("body").inner_text()
    _click_action(page, "Trình lãnh đạo duyệt")
    _wait_state(page, "submitted")

    _login(page, f"{UNIT}.lanhdao")
    _open_report(page, report_url)
    _click_action(page, "Duyệt")
    assert _state(page) == "approved"

    # not signed yet: the regime refuses to send
    _login(page, f"{UNIT}.vanthu")
    _open_report(page, report_url)
    _click_action(page, "Ký số và gửi")
    assert _state(page) == "approved"
    assert "yêu cầu ký số trước khi gửi" in page.locator("body").inner_text()

    _sign_and_send(page, report_url, server_instance, tmp_path)
    assert page.locator("#entry-cycle .entry-sent").count() == 1

    # the lead agency downloads the signed PDF and checks it on the verification page
    _login(page, REVIEWER)
    signed = page.request.get(report_url.replace("/entry/", "/signing/report/")
                              + "/version/1/pdf")
    assert signed.ok and signed.body().startswith(b"%PDF")
    (tmp_path / "sent.pdf").write_bytes(signed.body())
    page.goto("/verify/")
    page.locator('input[type="file"]').first.set_input_files(str(tmp_path / "sent.pdf"))
    page.locator('form [type="submit"]').last.click()
    page.wait_for_load_state()
    result = page.locator("body").inner_text()
    assert "Tất cả chữ ký hợp lệ" in result and "ChuKyLanhDao" in result \
        and "ChuKyCoQuan" in result, result[:2000]
    page.screenshot(path=str(tmp_path / "cycle-verified.png"), full_page=True)

    _open_report(page, report_url)
    _give_reason(page, "return", "Số liệu dòng 23 chưa khớp báo cáo quý")
    page.locator('.entry-input[data-cell="D23"]').click()
    box = page.locator(".cell-comment-box")
    box.locator("textarea").fill("Kiểm tra lại con số này")
    box.locator("button.btn-warning").click()
    page.locator('details[data-action="return"] button[type=submit]').click()
    page.wait_for_load_state()
    assert _state(page) == "returned"
    page.screenshot(path=str(tmp_path / "cycle-returned.png"), full_page=False)

    _login(page, f"{UNIT}.nhaplieu")
    _open_report(page, report_url)
    comments = page.locator("#cell-comments").inner_text()
    assert "Kiểm tra lại con số này" in comments and "D23" in comments
    assert page.locator('td.has-comment .entry-input[data-cell="D23"]').count() == 1
    page.locator('.entry-input[data-cell="D23"]').fill("")
    page.locator('.entry-input[data-cell="D23"]').type("1.050")
    _click_action(page, "Trình lãnh đạo duyệt")
    _wait_state(page, "submitted")

    _login(page, f"{UNIT}.lanhdao")
    _open_report(page, report_url)
    _click_action(page, "Duyệt")
    _sign_and_send(page, report_url, server_instance, tmp_path)
    _login(page, REVIEWER)
    _open_report(page, report_url)
    _click_action(page, "Tiếp nhận")
    assert _state(page) == "accepted"

    # both sent versions stay readable: the first still shows what was sent then
    page.goto(report_url + "/version/1")
    assert _shown(page, "D23") == "1.000"
    page.goto(report_url + "/version/2")
    assert _shown(page, "D23") == "1.050"


def _shown(page, address: str) -> str:
    """What a read-only cell shows, drawn as a disabled input or as text."""
    cell = page.locator(f'[data-cell="{address}"]').first
    if cell.evaluate("node => node.tagName") == "INPUT":
        return cell.input_value().strip()
    return cell.inner_text().strip()
