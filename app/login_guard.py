"""Brute-force defences of the password form: a captcha after a few failures, then a lockout.

Every attempt is a row of ``login_attempt``, so all web workers (and all servers on one database)
see the same counts. Failures for a username count from the later of the window's start and that
username's last successful login, so a successful login starts the count again.

* After ``LOGIN_CAPTCHA_AFTER`` failures for the username, or from the address, within the
  window, the form asks for a captcha drawn by the server (no outside service).
* After ``LOGIN_LOCKOUT_AFTER`` failures for the username within
  ``LOGIN_LOCKOUT_WINDOW_MINUTES``, the username is refused for ``LOGIN_LOCKOUT_MINUTES`` after
  the last failure, whatever the password. Refused tries do not prolong the lock; an
  administrator may end it early (``flask accounts unlock``).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import io
import secrets

from sqlalchemy import case, delete, func, or_, select, true
from sqlalchemy.orm import Session

from app.models import AppUser
from app.models.login_security import (
    ADMIN,
    FAILED,
    LOCKED,
    SUCCEEDED,
    UNLOCKED,
    LoginAttempt,
    LoginCaptcha,
)
from app.models.people import utcnow

# letters and digits that cannot be mistaken for one another (no 0/O, 1/I/L, 5/S, 2/Z, 8/B)
CAPTCHA_ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"
CAPTCHA_LENGTH = 5


@dataclasses.dataclass(frozen=True)
class Policy:
    captcha_after: int = 3
    lockout_after: int = 10
    window: dt.timedelta = dt.timedelta(minutes=15)
    lockout: dt.timedelta = dt.timedelta(minutes=15)
    captcha_ttl: dt.timedelta = dt.timedelta(minutes=5)

    @classmethod
    def from_config(cls, config) -> Policy:
        return cls(
            captcha_after=int(config.get("LOGIN_CAPTCHA_AFTER", 3)),
            lockout_after=int(config.get("LOGIN_LOCKOUT_AFTER", 10)),
            window=dt.timedelta(minutes=float(config.get("LOGIN_LOCKOUT_WINDOW_MINUTES", 15))),
            lockout=dt.timedelta(minutes=float(config.get("LOGIN_LOCKOUT_MINUTES", 15))),
            captcha_ttl=dt.timedelta(seconds=float(config.get("LOGIN_CAPTCHA_TTL_SECONDS", 300))),
        )


def account_key(session: Session, typed: str | None) -> str:
    """The name attempts are counted under: the account's username when the person typed its
    username or e-mail (so switching between the two gains no tries), else what was typed."""
    typed = (typed or "").strip()
    if not typed:
        return ""
    lowered = typed.lower()
    username = session.scalar(
        select(AppUser.username).where(
            or_(func.lower(AppUser.username) == lowered, func.lower(AppUser.email) == lowered)
        ).limit(1)
    )
    return (username or typed).lower()[:256]


def record(session: Session, username: str | None, address: str | None, outcome: str,
           method: str = "password", now: dt.datetime | None = None) -> LoginAttempt:
    attempt = LoginAttempt(
        username=(username or None), address=(address or "")[:64] or None,
        method=method, outcome=outcome, created_at=now or utcnow(),
    )
    session.add(attempt)
    session.flush()
    return attempt


def _others(excluding: int | None):
    return LoginAttempt.id != excluding if excluding is not None else true()


def _username_failures(session: Session, username: str, since: dt.datetime,
                       excluding: int | None = None):
    last_success = session.scalar(
        select(func.max(LoginAttempt.created_at)).where(
            LoginAttempt.username == username, LoginAttempt.outcome.in_((SUCCEEDED, UNLOCKED))
        )
    )
    if last_success is not None and last_success > since:
        since = last_success
    # An attempt refused as locked counts too: of attempts racing in parallel, those refused
    # because the others were in flight must still add up to a lock. The lock runs from the last
    # real failure, so refusals during a lock do not extend it (unless there is none).
    count, last_failure, last_refusal = session.execute(
        select(func.count(LoginAttempt.id),
               func.max(case((LoginAttempt.outcome == FAILED, LoginAttempt.created_at))),
               func.max(LoginAttempt.created_at)).where(
            LoginAttempt.username == username,
            LoginAttempt.outcome.in_((FAILED, LOCKED)),
            LoginAttempt.created_at > since,
            _others(excluding),
        )
    ).one()
    return count, last_failure or last_refusal


def failures_for_username(session: Session, username: str, policy: Policy,
                          now: dt.datetime | None = None, excluding: int | None = None) -> int:
    if not username:
        return 0
    now = now or utcnow()
    return _username_failures(session, username, now - policy.window, excluding)[0]


def failures_from_address(session: Session, address: str | None, policy: Policy,
                          now: dt.datetime | None = None, excluding: int | None = None) -> int:
    if not address:
        return 0
    now = now or utcnow()
    return session.scalar(
        select(func.count(LoginAttempt.id)).where(
            LoginAttempt.address == address[:64],
            LoginAttempt.outcome == FAILED,
            LoginAttempt.created_at > now - policy.window,
            _others(excluding),
        )
    )


def locked_until(session: Session, username: str, policy: Policy,
                 now: dt.datetime | None = None, excluding: int | None = None
                 ) -> dt.datetime | None:
    """When the username's lock ends (UTC), or None when it is not locked (counting the
    attempts other than ``excluding``)."""
    if not username or policy.lockout_after <= 0:
        return None
    now = now or utcnow()
    count, last_failure = _username_failures(session, username, now - policy.window, excluding)
    if count < policy.lockout_after or last_failure is None:
        return None
    until = last_failure + policy.lockout
    return until if until > now else None


def captcha_required(session: Session, username: str, address: str | None, policy: Policy,
                     now: dt.datetime | None = None, excluding: int | None = None) -> bool:
    if policy.captcha_after <= 0:
        return False
    now = now or utcnow()
    return (
        failures_for_username(session, username, policy, now, excluding) >= policy.captcha_after
        or failures_from_address(session, address, policy, now, excluding)
        >= policy.captcha_after
    )


def open_attempt(session: Session, username: str, address: str | None) -> LoginAttempt:
    """Record a password attempt as failed *before* the password is checked, and commit.

    Every worker then counts it at once: of many attempts racing in parallel, the one committed
    k-th sees at least k-1 others, so no more than LOGIN_LOCKOUT_AFTER of them get past
    :func:`locked_until` to a password check. :func:`settle` writes the real outcome."""
    attempt = record(session, username, address, FAILED)
    session.commit()
    return attempt


def settle(session: Session, attempt: LoginAttempt, outcome: str) -> None:
    attempt.outcome = outcome
    session.commit()


def unlock(session: Session, typed: str, now: dt.datetime | None = None) -> str:
    """Start the username's count again, as a successful login would; returns the username."""
    username = account_key(session, typed)
    record(session, username, None, UNLOCKED, method=ADMIN, now=now)
    return username


def prune(session: Session, older_than: dt.datetime) -> int:
    """Remove attempts recorded before the given time; returns how many."""
    return session.execute(
        delete(LoginAttempt).where(LoginAttempt.created_at < older_than)
    ).rowcount


# --------------------------------------------------------------------------------------------
# Captcha
# --------------------------------------------------------------------------------------------


def _answer_hash(secret_key: str, token: str, answer: str) -> str:
    normalised = "".join(answer.split()).upper()
    return hmac.new(
        secret_key.encode(), f"{token}:{normalised}".encode(), hashlib.sha256
    ).hexdigest()


def draw_captcha(text: str) -> bytes:
    from captcha.image import ImageCaptcha

    image = ImageCaptcha(width=220, height=80).generate(text, format="png")
    return image.getvalue() if isinstance(image, io.BytesIO) else image.read()


def issue_captcha(session: Session, secret_key: str, policy: Policy,
                  now: dt.datetime | None = None) -> tuple[str, str, str]:
    """A new challenge: returns (token, answer, PNG as a data: URI). Only a keyed hash of the
    answer is stored; expired challenges are removed on the way."""
    now = now or utcnow()
    session.execute(delete(LoginCaptcha).where(LoginCaptcha.expires_at < now))
    token = secrets.token_urlsafe(32)
    answer = "".join(secrets.choice(CAPTCHA_ALPHABET) for _ in range(CAPTCHA_LENGTH))
    session.add(LoginCaptcha(
        token=token, answer_hash=_answer_hash(secret_key, token, answer),
        expires_at=now + policy.captcha_ttl,
    ))
    session.flush()
    png = base64.b64encode(draw_captcha(answer)).decode("ascii")
    return token, answer, "data:image/png;base64," + png


def check_captcha(session: Session, secret_key: str, token: str | None, answer: str | None,
                  now: dt.datetime | None = None) -> bool:
    """True when the answer is right. The challenge is used up whatever the answer: the row is
    deleted, and only the request whose delete removed it may pass (two workers racing with one
    challenge cannot both)."""
    if not token:
        return False
    now = now or utcnow()
    challenge = session.get(LoginCaptcha, token)
    if challenge is None:
        return False
    expected, expires_at = challenge.answer_hash, challenge.expires_at
    session.expunge(challenge)
    removed = session.execute(delete(LoginCaptcha).where(LoginCaptcha.token == token)).rowcount
    if removed != 1 or expires_at < now or not answer:
        return False
    return hmac.compare_digest(expected, _answer_hash(secret_key, token, answer))
