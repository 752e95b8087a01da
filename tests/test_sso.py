"""Single sign-on against a real OpenID Connect provider run on loopback (tests/oidc_provider.py).

The browser's part is played by the test client (the app) and requests (the provider): the
login page's button, the redirect with PKCE, state and nonce, the provider's redirect back, and
the callback that redeems the code and checks the ID token.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from app.models import AppUser
from app.models.login_security import SSO_REFUSED, SUCCEEDED, VNCONNECT, LoginAttempt
from tests import factories
from tests.conftest import _clean_database
from tests.oidc_provider import OIDCProvider

CCCD = "001094012345"
BUTTON = "Đăng nhập qua Cổng dịch vụ công quốc gia (VNConnect)"


@pytest.fixture(scope="module")
def provider():
    running = OIDCProvider().start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def sso_app(app, provider):
    """A second app on the test database, configured for the provider."""
    from app import create_app

    return create_app({
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": "localhost",
        "OIDC_ISSUER": provider.issuer,
        "OIDC_CLIENT_ID": provider.client_id,
        "OIDC_CLIENT_SECRET": provider.client_secret,
        "OIDC_CCCD_CLAIM": "cccd",
    })


@pytest.fixture
def sso(app, sso_app, provider):
    _clean_database(app)
    provider.sign_with_foreign_key = False
    provider.userinfo_only = set()
    provider.person = {}
    with sso_app.app_context():
        yield sso_app
    _clean_database(app)


@pytest.fixture
def world(sso):
    from app.extensions import db

    home = factories.unit(db.session, "Sở Tài chính")
    people = {
        "clerk": factories.user(db.session, "nhaplieu", home, ["Nhập liệu"], national_id=CCCD,
                                email="nhaplieu@stc.gov.vn"),
        "same_email": factories.user(db.session, "trungthu", home, ["Nhập liệu"],
                                     email="trung.thu@stc.gov.vn"),
        "retired": factories.user(db.session, "nghihuu", home, ["Nhập liệu"],
                                  national_id="001060000001", active=False),
    }
    db.session.commit()
    return people


@pytest.fixture
def refusals():
    """The reasons the callback logs for refusing (Alembic's logging setup disables the app's
    loggers in tests, so the logger is switched on here)."""
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    logger = logging.getLogger("app.views.login")
    handler, was_disabled = Collect(level=logging.WARNING), logger.disabled
    logger.addHandler(handler)
    logger.disabled = False
    yield seen
    logger.removeHandler(handler)
    logger.disabled = was_disabled


def _walk(client, provider, *, tamper_state: bool = False, next_url: str | None = None):
    """Click the button, let the provider approve, come back; returns the callback's answer."""
    start = client.get("/login/vnconnect" + (f"?next={next_url}" if next_url else ""))
    assert start.status_code == 302
    location = start.headers["Location"]
    assert location.startswith(provider.issuer + "/authorize?")
    at_provider = requests.get(location, allow_redirects=False, timeout=10)
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["Location"])
    assert back.path == "/login/vnconnect/callback"
    query = back.query
    if tamper_state:
        params = parse_qs(query)
        query = f"code={params['code'][0]}&state=forged-{params['state'][0][:8]}"
    return client.get(back.path + "?" + query)


def _logged_in_user_id(client):
    with client.session_transaction() as session:
        value = session.get("_user_id")
    return int(value) if value else None


def _user_count(db) -> int:
    return db.session.scalar(select(func.count(AppUser.id)))


def test_login_page_shows_the_button_only_when_configured(sso, client):
    page = sso.test_client().get("/login/").get_data(as_text=True)
    assert BUTTON in page
    assert 'href="/login/vnconnect"' in page
    assert "Tên đăng nhập" in page  # the password form stays beside it
    assert BUTTON not in client.get("/login/").get_data(as_text=True)


def test_button_in_english(sso):
    client = sso.test_client()
    client.get("/lang/en")
    page = client.get("/login/").get_data(as_text=True)
    assert "Sign in through the National Public Service Portal (VNConnect)" in page
    assert BUTTON not in page


def test_login_through_the_provider_finds_the_account_by_cccd(world, sso, provider):
    from app.extensions import db

    provider.person = {"sub": "vnc-1", "cccd": CCCD, "email": "khac@example.vn", "name": "Nhập Liệu"}
    client = sso.test_client()
    done = _walk(client, provider, next_url="/unitview/list/")
    assert done.status_code == 302, done.get_data(as_text=True)
    assert done.headers["Location"].endswith("/unitview/list/")
    assert _logged_in_user_id(client) == world["clerk"].id

    request = provider.authorize_requests[-1]
    assert request["code_challenge_method"] == "S256" and request["code_challenge"]
    assert request["state"] and request["nonce"]
    assert "openid" in request["scope"].split()
    assert len(provider.redeemed) >= 1

    # recorded like a password login
    db.session.expire_all()
    clerk = db.session.get(AppUser, world["clerk"].id)
    assert clerk.login_count == 1 and clerk.last_login is not None
    attempt = db.session.scalars(select(LoginAttempt).order_by(LoginAttempt.id.desc())).first()
    assert (attempt.username, attempt.method, attempt.outcome) == ("nhaplieu", VNCONNECT, SUCCEEDED)
    assert client.get("/unitview/list/").status_code == 200


def test_cccd_given_by_userinfo_only(world, sso, provider):
    provider.person = {"sub": "vnc-1", "cccd": CCCD}
    provider.userinfo_only = {"cccd"}
    client = sso.test_client()
    _walk(client, provider)
    assert _logged_in_user_id(client) == world["clerk"].id


def test_unknown_cccd_is_refused_and_nothing_is_created(world, sso, provider):
    from app.extensions import db

    before = _user_count(db)
    provider.person = {"sub": "vnc-2", "cccd": "079200009999", "email": "moi@example.vn"}
    client = sso.test_client()
    done = _walk(client, provider)
    assert done.headers["Location"].endswith("/login/")
    assert _logged_in_user_id(client) is None
    page = client.get("/login/").get_data(as_text=True)
    assert "Chưa có tài khoản nào gắn với số CCCD ••••••••9999" in page
    assert _user_count(db) == before
    outcomes = db.session.scalars(select(LoginAttempt.outcome)).all()
    assert outcomes == [SSO_REFUSED]


def test_same_email_without_cccd_is_not_matched(world, sso, provider):
    from app.extensions import db

    before = _user_count(db)
    # the provider vouches for the e-mail of an account that has no CCCD on file
    provider.person = {"sub": "vnc-3", "cccd": "001099888777", "email": "trung.thu@stc.gov.vn",
                       "email_verified": True}
    client = sso.test_client()
    _walk(client, provider)
    assert _logged_in_user_id(client) is None
    provider.person = {"sub": "vnc-3", "email": "trung.thu@stc.gov.vn", "email_verified": True}
    _walk(client, provider)
    assert _logged_in_user_id(client) is None
    page = client.get("/login/").get_data(as_text=True)
    assert "không gửi số CCCD" in page
    assert _user_count(db) == before
    db.session.expire_all()
    assert db.session.get(AppUser, world["same_email"].id).login_count in (None, 0)


def test_disabled_account_is_refused(world, sso, provider):
    provider.person = {"sub": "vnc-4", "cccd": "001060000001"}
    client = sso.test_client()
    _walk(client, provider)
    assert _logged_in_user_id(client) is None
    assert "đang ngừng hoạt động" in client.get("/login/").get_data(as_text=True)


def test_tampered_state_is_refused_and_the_code_never_redeemed(world, sso, provider, refusals):
    provider.person = {"sub": "vnc-1", "cccd": CCCD}
    redeemed = len(provider.redeemed)
    client = sso.test_client()
    done = _walk(client, provider, tamper_state=True)
    assert done.headers["Location"].endswith("/login/")
    assert _logged_in_user_id(client) is None
    assert len(provider.redeemed) == redeemed
    assert "không thành công" in client.get("/login/").get_data(as_text=True)
    assert any("mismatching_state" in reason for reason in refusals)


def test_callback_without_having_started_is_refused(world, sso, provider):
    client = sso.test_client()
    done = client.get("/login/vnconnect/callback?code=abc&state=xyz")
    assert done.headers["Location"].endswith("/login/")
    assert _logged_in_user_id(client) is None


def test_id_token_signed_with_an_unpublished_key_is_refused(world, sso, provider, refusals):
    provider.person = {"sub": "vnc-1", "cccd": CCCD}
    provider.sign_with_foreign_key = True
    client = sso.test_client()
    _walk(client, provider)
    assert _logged_in_user_id(client) is None
    assert any("bad_signature" in reason for reason in refusals)


def test_unreachable_provider_leaves_the_password_form(world, app):
    import socket

    from app import create_app

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    offline = create_app({
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "TESTING": True, "WTF_CSRF_ENABLED": False, "SERVER_NAME": "localhost",
        "OIDC_ISSUER": f"http://127.0.0.1:{closed}", "OIDC_CLIENT_ID": "htttbc",
        "OIDC_CLIENT_SECRET": "x", "OIDC_TIMEOUT": 2,
    })
    client = offline.test_client()
    answer = client.get("/login/vnconnect")
    assert answer.headers["Location"].endswith("/login/")
    assert "Không kết nối được Cổng dịch vụ công quốc gia" in client.get("/login/").get_data(
        as_text=True)
