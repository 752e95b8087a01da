"""Login attempts and captcha challenges, kept in the database so every worker counts alike."""

from __future__ import annotations

import datetime as dt

from flask_appbuilder.models.sqla import Model
from sqlalchemy import DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.people import utcnow

# outcomes of one attempt
SUCCEEDED = "succeeded"
FAILED = "failed"  # wrong password, or an unknown or disabled account
LOCKED = "locked"  # refused without checking the password: the username is locked
CAPTCHA_REFUSED = "captcha"  # refused without checking the password: captcha missing or wrong
SSO_REFUSED = "sso_refused"  # the identity provider answered, but no active account matched
UNLOCKED = "unlocked"  # an administrator cleared the username's count (flask accounts unlock)

PASSWORD = "password"
VNCONNECT = "vnconnect"
ADMIN = "admin"


class LoginAttempt(Model):
    """One try at logging in, with the username typed (lower case) and the address it came from."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_username_created", "username", "created_at"),
        Index("ix_login_attempt_address_created", "address", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str | None] = mapped_column(String(256))
    address: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(20), nullable=False, default=PASSWORD)
    outcome: Mapped[str] = mapped_column(String(20), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class LoginCaptcha(Model):
    """A captcha shown on the login form: only a keyed hash of its answer is kept, and the row
    is deleted when it is answered, so each challenge can be answered once."""

    __tablename__ = "login_captcha"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    answer_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, index=True)
