"""The login page in a real browser: the captcha after failed passwords, then single sign-on
through an OpenID Connect provider, with CSRF protection on as in production.

The app runs in this process on a loopback port (its own SQLite database, so the address-based
captcha of these failures never reaches the shared demo server of the other browser tests).
"""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from app import login_guard
from tests import factories
from tests.conftest import build_app
from tests.oidc_provider import OIDCProvider

pytestmark = pytest.mark.browser

CCCD = "001094012345"


@pytest.fixture(scope="module")
def provider():
    running = OIDCProvider().start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def served(tmp_path_factory, provider):
    folder = tmp_path_factory.mktemp("login_journey")
    app = build_app(
        f"sqlite:///{folder / 'login.sqlite'}",
        SERVER_NAME=None,
        WTF_CSRF_ENABLED=True,
        OIDC_ISSUER=provider.issuer,
        OIDC_CLIENT_ID=provider.client_id,
        OIDC_CLIENT_SECRET=provider.client_secret,
    )
    with app.app_context():
        from app.extensions import db

        home = factories.unit(db.session, "Sở Tài chính")
        factories.user(db.session, "nhaplieu", home, ["Nhập liệu"], national_id=CCCD)
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def login_page(chromium_browser, served):
    context = chromium_browser.new_context(base_url=served, locale="vi-VN")
    context.set_default_timeout(15000)
    yield context.new_page()
    context.close()


def _submit(page, username, password, captcha=None):
    page.goto("/login/")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(password)
    if captcha is not None:  # a text, or a function reading the picture just shown
        page.get_by_label("Mã xác nhận").fill(captcha if isinstance(captcha, str) else captcha())
    page.locator("form input[type=submit]").click()
    page.wait_for_load_state()


def test_captcha_then_single_sign_on(login_page, provider, monkeypatch, tmp_path):
    drawn: list[str] = []
    real = login_guard.draw_captcha
    monkeypatch.setattr(login_guard, "draw_captcha", lambda text: drawn.append(text) or real(text))
    page = login_page

    for _ in range(3):
        _submit(page, "nhaplieu", "sai-mat-khau")
    assert "Đăng nhập không thành công" in page.locator(".alert").inner_text()
    page.goto("/login/")
    image = page.get_by_role("img", name="Hình mã xác nhận")
    assert image.is_visible()
    page.screenshot(path=str(tmp_path / "captcha.png"))

    _submit(page, "nhaplieu", factories.PASSWORD, captcha="SAI99")
    assert "Mã xác nhận chưa đúng" in page.locator(".alert").inner_text()
    assert "/login" in page.url

    _submit(page, "nhaplieu", factories.PASSWORD, captcha=lambda: drawn[-1])
    assert "/login" not in page.url, page.locator("body").inner_text()[:1000]
    assert "Xin chào" in page.locator("body").inner_text()

    page.goto("/logout/")
    provider.person = {"sub": "vnc-1", "cccd": CCCD}
    page.goto("/login/")
    page.get_by_role("link", name="Đăng nhập qua Cổng dịch vụ công quốc gia (VNConnect)").click()
    page.wait_for_load_state()
    assert "/login" not in page.url, page.locator("body").inner_text()[:1000]
    assert "Xin chào" in page.locator("body").inner_text()

    page.goto("/logout/")
    provider.person = {"sub": "vnc-2", "cccd": "079200009999"}
    page.goto("/login/")
    page.get_by_role("link", name="Đăng nhập qua Cổng dịch vụ công quốc gia (VNConnect)").click()
    page.wait_for_load_state()
    assert "/login" in page.url
    assert "Chưa có tài khoản nào gắn với số CCCD" in page.locator(".alert").inner_text()
