"""The password form's defences: a server-drawn captcha after failures, then a lockout counted in
the database, so two workers (two app instances on one database here) share the count."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from app import login_guard
from app.formatting import format_datetime
from app.models.login_security import (
    CAPTCHA_REFUSED,
    FAILED,
    LOCKED,
    SUCCEEDED,
    LoginAttempt,
    LoginCaptcha,
)
from app.models.people import utcnow
from tests import factories

INVALID = "Đăng nhập không thành công. Vui lòng thử lại."
CAPTCHA_WRONG = "Mã xác nhận chưa đúng hoặc đã hết hạn"
LOCKED_TEXT = "Tài khoản tạm thời bị khóa do nhập sai mật khẩu nhiều lần"
IMAGE = 'src="data:image/png;base64,'


@pytest.fixture(scope="module")
def second_worker(app):
    """Another app instance on the same database, as a second gunicorn worker would be."""
    from app import create_app

    return create_app({
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": "localhost",
    })


@pytest.fixture
def drawn(monkeypatch):
    """The texts of the captchas drawn (what a person reads off the image)."""
    texts: list[str] = []
    real = login_guard.draw_captcha

    def draw(text):
        texts.append(text)
        return real(text)

    monkeypatch.setattr(login_guard, "draw_captcha", draw)
    return texts


@pytest.fixture
def clerk(session):
    home = factories.unit(session, "Sở Tài chính")
    account = factories.user(session, "nhaplieu", home, ["Nhập liệu"])
    session.commit()
    return account


def _user_id(client):
    with client.session_transaction() as stored:
        value = stored.get("_user_id")
    return int(value) if value else None


def _post(client, password, *, captcha=None, username="nhaplieu"):
    data = {"username": username, "password": password}
    if captcha is not None:
        data["captcha"] = captcha
    return client.post("/login/", data=data, follow_redirects=True).get_data(as_text=True)


def _try(client, drawn, password, username="nhaplieu"):
    """Like a person: open the form, answer the captcha when there is one, submit; once more
    when the server asked for a captcha the form had not shown (first visit from this browser)."""
    for _ in range(2):
        form = client.get("/login/").get_data(as_text=True)
        page = _post(client, password, username=username,
                     captcha=drawn[-1] if IMAGE in form else None)
        if CAPTCHA_WRONG not in page:
            return page
    raise AssertionError("the captcha was refused twice")


def _outcomes(session):
    session.expire_all()
    return session.scalars(select(LoginAttempt.outcome).order_by(LoginAttempt.id)).all()


def test_captcha_appears_after_failures_and_a_wrong_answer_is_refused(clerk, client, session,
                                                                      drawn):
    for _ in range(2):
        assert INVALID in _post(client, "sai-mat-khau")
    assert IMAGE not in client.get("/login/").get_data(as_text=True)

    page = _post(client, "sai-mat-khau")  # the third failure
    assert INVALID in page
    assert IMAGE in page and 'name="captcha"' in page
    assert "Mã xác nhận" in page

    # the right password with a wrong answer, then with none: refused, password not even tried
    page = _post(client, factories.PASSWORD, captcha="SAI99")
    assert CAPTCHA_WRONG in page and _user_id(client) is None
    assert IMAGE in page  # a new image
    with client.session_transaction() as stored:
        stored.pop("login_captcha")
    assert CAPTCHA_WRONG in _post(client, factories.PASSWORD)
    assert _user_id(client) is None
    assert _outcomes(session) == [FAILED] * 3 + [CAPTCHA_REFUSED] * 2

    # the right answer (any letter case) and password
    client.get("/login/")
    with client.session_transaction() as stored:
        token = stored["login_captcha"]
    _post(client, factories.PASSWORD, captcha=drawn[-1].lower())
    assert _user_id(client) == clerk.id
    assert login_guard.failures_for_username(session, "nhaplieu", login_guard.Policy()) == 0
    session.expire_all()
    assert session.get(LoginCaptcha, token) is None  # answered, so gone


def test_captcha_is_single_use_and_expires(app_ctx, session):
    policy = login_guard.Policy()
    secret = app_ctx.config["SECRET_KEY"]
    token, answer, image = login_guard.issue_captcha(session, secret, policy)
    assert image.startswith("data:image/png;base64,")
    stored = session.get(LoginCaptcha, token)
    assert answer not in stored.answer_hash and len(stored.answer_hash) == 64
    assert login_guard.check_captcha(session, secret, token, answer)
    assert not login_guard.check_captcha(session, secret, token, answer)  # used up

    token, answer, _ = login_guard.issue_captcha(session, secret, policy)
    assert not login_guard.check_captcha(session, secret, token, "WRONG")
    assert not login_guard.check_captcha(session, secret, token, answer)  # a wrong try uses it

    token, answer, _ = login_guard.issue_captcha(session, secret, policy)
    later = utcnow() + policy.captcha_ttl + dt.timedelta(seconds=1)
    assert not login_guard.check_captcha(session, secret, token, answer, now=later)
    assert not login_guard.check_captcha(session, secret, None, answer)


def test_lockout_counts_across_two_workers_and_success_resets(clerk, client, session, drawn,
                                                              second_worker):
    worker_b = second_worker.test_client()
    worker_b.environ_base["REMOTE_ADDR"] = "10.20.30.40"
    workers = [client, worker_b]
    for number in range(10):
        page = _try(workers[number % 2], drawn, "sai-mat-khau")
    assert _outcomes(session).count(FAILED) == 10
    last_failure = session.scalar(
        select(func.max(LoginAttempt.created_at)).where(LoginAttempt.outcome == FAILED)
    )
    until = format_datetime(last_failure + dt.timedelta(minutes=15))
    assert LOCKED_TEXT in page and until in page

    # locked on both workers, even with the right password and captcha
    for worker in workers:
        page = _try(worker, drawn, factories.PASSWORD)
        assert LOCKED_TEXT in page and until in page
        assert _user_id(worker) is None
    assert _outcomes(session).count(LOCKED) == 2
    assert _outcomes(session).count(FAILED) == 10  # refused tries do not prolong the lock

    # fifteen minutes on, the lock has ended; a success starts the count again
    for attempt in session.scalars(select(LoginAttempt)):
        attempt.created_at -= dt.timedelta(minutes=16)
    session.commit()
    _try(worker_b, drawn, factories.PASSWORD)
    assert _user_id(worker_b) == clerk.id
    assert login_guard.failures_for_username(session, "nhaplieu", login_guard.Policy()) == 0
    assert _outcomes(session)[-1] == SUCCEEDED


def test_parallel_attempts_on_two_workers_get_no_more_password_checks_than_the_limit(
        clerk, client, session, app, second_worker):
    """Twenty wrong passwords sent at once, half to each worker (the captcha switched off to
    see the lockout alone): no more than ten reach the password check."""
    import threading

    policies = []
    for worker in (app, second_worker):
        policies.append(worker.config["LOGIN_CAPTCHA_AFTER"])
        worker.config["LOGIN_CAPTCHA_AFTER"] = 0
    barrier = threading.Barrier(20)
    errors: list[BaseException] = []

    def attack(worker, number):
        try:
            attacker = worker.test_client()
            attacker.environ_base["REMOTE_ADDR"] = f"10.9.0.{number}"
            barrier.wait(timeout=30)
            attacker.post("/login/", data={"username": "nhaplieu", "password": f"sai-{number}"})
        except BaseException as error:  # noqa: B036  (reported below)
            errors.append(error)

    threads = [threading.Thread(target=attack, args=((app, second_worker)[n % 2], n))
               for n in range(20)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        for worker, value in zip((app, second_worker), policies, strict=True):
            worker.config["LOGIN_CAPTCHA_AFTER"] = value
    assert not errors, errors
    outcomes = _outcomes(session)
    assert len(outcomes) == 20
    assert outcomes.count(FAILED) <= 10
    assert outcomes.count(FAILED) + outcomes.count(LOCKED) == 20
    assert login_guard.locked_until(session, "nhaplieu", login_guard.Policy()) is not None


def test_lock_policy_in_time(clerk, session):
    policy = login_guard.Policy()
    start = utcnow() - dt.timedelta(hours=1)

    def fail(minutes):
        login_guard.record(session, "nhaplieu", "10.0.0.1", FAILED,
                           now=start + dt.timedelta(minutes=minutes))

    for minute in [0, *range(10, 19)]:  # ten failures over eighteen minutes: nine in fifteen
        fail(minute)
    moment = start + dt.timedelta(minutes=19)
    assert login_guard.locked_until(session, "nhaplieu", policy, now=moment) is None
    assert login_guard.captcha_required(session, "nhaplieu", None, policy, now=moment)
    fail(20)  # now ten within the window
    moment = start + dt.timedelta(minutes=21)
    assert login_guard.locked_until(session, "nhaplieu", policy, now=moment) == (
        start + dt.timedelta(minutes=35))
    assert login_guard.locked_until(
        session, "nhaplieu", policy, now=start + dt.timedelta(minutes=36)) is None
    login_guard.record(session, "nhaplieu", "10.0.0.1", SUCCEEDED,
                       now=start + dt.timedelta(minutes=20, seconds=30))
    assert login_guard.locked_until(session, "nhaplieu", policy, now=moment) is None
    assert not login_guard.captcha_required(session, "nhaplieu", None, policy, now=moment)
    # the address keeps its count: a success on one account does not clear it
    assert login_guard.captcha_required(session, "nhaplieu", "10.0.0.1", policy, now=moment)


def test_username_and_email_count_as_one_account(clerk, session):
    assert login_guard.account_key(session, " NhapLieu ") == "nhaplieu"
    assert login_guard.account_key(session, "NHAPLIEU@example.gov.vn") == "nhaplieu"
    assert login_guard.account_key(session, "Khong-Co") == "khong-co"


def test_an_administrator_unlocks_a_username_and_prunes_old_attempts(clerk, session, app_ctx):
    policy = login_guard.Policy()
    for _ in range(10):
        login_guard.record(session, "nhaplieu", "10.0.0.1", FAILED)
    session.commit()
    assert login_guard.locked_until(session, "nhaplieu", policy) is not None

    runner = app_ctx.test_cli_runner()
    result = runner.invoke(args=["accounts", "unlock", "NhapLieu@example.gov.vn"])
    assert result.exit_code == 0, result.output
    assert "nhaplieu" in result.output
    session.expire_all()
    assert login_guard.locked_until(session, "nhaplieu", policy) is None
    assert login_guard.failures_for_username(session, "nhaplieu", policy) == 0

    login_guard.record(session, "nhaplieu", None, FAILED, now=utcnow() - dt.timedelta(days=200))
    session.commit()
    result = runner.invoke(args=["accounts", "prune-logins", "--days", "180"])
    assert result.exit_code == 0 and "Đã xóa 1 " in result.output
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(LoginAttempt)) == 11

