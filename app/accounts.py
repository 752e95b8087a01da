"""Account rules: fields, unit moves with history, and the one-time password lifecycle."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import string

from sqlalchemy import func, inspect, select

from app.errors import DomainError
from app.models import AppUser, UserUnitHistory
from app.text import nfc

NATIONAL_ID_RE = re.compile(r"^\d{12}$")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def normalise_phone(raw) -> str | None:
    """A Vietnamese mobile number as 0xxxxxxxxx, from "+84 912 345 678", "0912.345.678", 912345678…

    Returns None for an empty value; raises DomainError for something that is not a mobile number.
    """
    if raw is None:
        return None
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    text = re.sub(r"[\s.\-()/]", "", str(raw).strip())
    if not text:
        return None
    if text.startswith("+84"):
        text = "0" + text[3:]
    elif text.startswith("84") and len(text) == 11:
        text = "0" + text[2:]
    elif len(text) == 9 and text[0] in "35789":
        text = "0" + text
    if not re.fullmatch(r"0[35789]\d{8}", text):
        raise DomainError(f"Số điện thoại di động «{raw}» không hợp lệ (cần 10 chữ số, bắt đầu bằng 03, 05, 07, 08, 09).", field="mobile_phone")
    return text


def validate_account_fields(session, user: AppUser) -> None:
    """Normalise and check an account's own fields; raise DomainError naming the field."""
    for attr in ("first_name", "last_name", "username", "email", "position"):
        setattr(user, attr, nfc(getattr(user, attr)))
    if user.email:
        user.email = user.email.lower()
    if user.national_id in ("", None):
        user.national_id = None
    else:
        user.national_id = str(user.national_id).strip()
        if not NATIONAL_ID_RE.match(user.national_id):
            raise DomainError("Số CCCD phải gồm đúng 12 chữ số.", field="national_id")
    user.mobile_phone = normalise_phone(user.mobile_phone)
    if user.unit is None and user.unit_id is None:
        raise DomainError("Tài khoản phải thuộc một đơn vị.", field="unit")
    with session.no_autoflush:
        for attr, label in (("email", "Thư điện tử"), ("username", "Tên đăng nhập"), ("national_id", "Số CCCD")):
            value = getattr(user, attr)
            if not value:
                continue
            column = getattr(AppUser, attr)
            query = select(AppUser.id).where(func.lower(column) == value.lower())
            if user.id is not None:
                query = query.where(AppUser.id != user.id)
            if session.execute(query).first():
                raise DomainError(f"{label} «{value}» đã được dùng cho tài khoản khác.", field=attr)


def open_unit_history(session, user: AppUser, actor=None, reason: str | None = None) -> None:
    unit_id = user.unit_id if user.unit_id is not None else (user.unit.id if user.unit else None)
    if unit_id is None:
        return
    session.add(
        UserUnitHistory(
            user_id=user.id,
            unit_id=unit_id,
            started_at=utcnow(),
            changed_by_id=getattr(actor, "id", None),
            reason=reason,
        )
    )


def record_unit_move_if_changed(session, user: AppUser, actor=None, reason: str | None = None) -> None:
    """Close the open history row and open one for the new unit when the home unit changed."""
    state = inspect(user)
    history = state.attrs.unit.history
    id_history = state.attrs.unit_id.history
    if not (history.has_changes() or id_history.has_changes()):
        return
    now = utcnow()
    with session.no_autoflush:
        for row in session.scalars(
            select(UserUnitHistory).where(
                UserUnitHistory.user_id == user.id, UserUnitHistory.ended_at.is_(None)
            )
        ):
            row.ended_at = now
    open_unit_history(session, user, actor=actor, reason=reason or "Chuyển đơn vị công tác")


def move_user(session, user: AppUser, new_unit, actor=None, reason: str | None = None) -> None:
    """Move an account to another unit, keeping the history."""
    if user.unit_id == new_unit.id:
        return
    user.unit = new_unit
    record_unit_move_if_changed(session, user, actor=actor, reason=reason)


def deactivate_user(session, user: AppUser, actor=None) -> None:
    user.active = False


def generate_one_time_password(length: int = 12) -> str:
    """A random password that meets the complexity rule."""
    alphabet = string.ascii_letters + string.digits
    while True:
        body = "".join(secrets.choice(alphabet) for _ in range(length - 2))
        candidate = body + secrets.choice("@#$%&*!?") + secrets.choice(string.digits)
        if any(c.isupper() for c in candidate) and any(c.islower() for c in candidate):
            return candidate
