"""Account rules: fields, unit moves with history, and the one-time password lifecycle."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import string

from sqlalchemy import func, inspect, select

from app.errors import DomainError, PermissionDenied
from app.models import AppUser, UserUnitHistory
from app.text import nfc

NATIONAL_ID_RE = re.compile(r"^\d{12}$")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


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
    # The relationship wins: after ``user.unit = x`` the column keeps the old id until a flush.
    unit_id = user.unit.id if user.unit is not None else user.unit_id
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


def hash_password(password: str) -> str:
    """Hash a password the way Flask-AppBuilder does (its method and salt length settings)."""
    from flask import current_app, has_app_context
    from werkzeug.security import generate_password_hash

    config = current_app.config if has_app_context() else {}
    return generate_password_hash(
        password,
        method=config.get("FAB_PASSWORD_HASH_METHOD", "scrypt"),
        salt_length=config.get("FAB_PASSWORD_HASH_SALT_LENGTH", 16),
    )


def check_actor_over(user: AppUser, actor, action: str) -> None:
    """Raise PermissionDenied unless ``actor`` may act on ``user``'s account.

    ``actor`` None is the system itself (command line, jobs). A provincial admin acts on every
    account; a unit admin only on accounts whose unit lies in their subtree, and never on a
    provincial admin's account; nobody else manages accounts.
    """
    from app.roles import UNIT_ADMIN
    from app.scoping import is_provincial_admin, unit_in_scope

    if actor is None or is_provincial_admin(actor):
        return
    if not any(role.name == UNIT_ADMIN for role in (actor.roles or [])):
        raise PermissionDenied(
            f"Chỉ quản trị cấp tỉnh hoặc quản trị cấp đơn vị được {action} tài khoản «{user.username}»."
        )
    if is_provincial_admin(user):
        raise PermissionDenied(
            f"Tài khoản «{user.username}» là quản trị cấp tỉnh: chỉ quản trị cấp tỉnh được {action}."
        )
    unit = user.unit
    if not unit_in_scope(unit, actor):
        where = f"đơn vị «{unit.name}»" if unit is not None else "không thuộc đơn vị nào"
        raise PermissionDenied(
            f"Không được {action} tài khoản «{user.username}»: tài khoản thuộc {where}, "
            f"nằm ngoài phạm vi quản lý của bạn (đơn vị «{actor.unit.name if actor.unit else ''}» và các đơn vị cấp dưới)."
        )


def move_user(session, user: AppUser, new_unit, actor=None, reason: str | None = None) -> None:
    """Move an account to another unit, closing the open history row and opening a new one.

    A unit admin moves only accounts of their subtree, and only to a unit inside it.
    """
    from app.scoping import unit_in_scope

    check_actor_over(user, actor, "chuyển đơn vị")
    if new_unit is None:
        raise DomainError("Chọn đơn vị mới cho tài khoản.", field="unit")
    if actor is not None and not unit_in_scope(new_unit, actor):
        raise PermissionDenied(
            f"Không được chuyển tài khoản «{user.username}» sang đơn vị «{new_unit.name}»: "
            "đơn vị này nằm ngoài phạm vi quản lý của bạn."
        )
    if user.unit_id == new_unit.id:
        return
    user.unit = new_unit
    user.unit_id = new_unit.id
    record_unit_move_if_changed(session, user, actor=actor, reason=reason)
    session.flush()


def deactivate_user(session, user: AppUser, actor=None) -> None:
    """Close an account (staff left or changed job, seed 001 Art. 25.5); its history is kept."""
    check_actor_over(user, actor, "khóa")
    if actor is not None and getattr(actor, "id", None) == user.id:
        raise DomainError("Không thể tự khóa tài khoản của chính mình.")
    user.active = False
    now = utcnow()
    for row in session.scalars(
        select(UserUnitHistory).where(
            UserUnitHistory.user_id == user.id, UserUnitHistory.ended_at.is_(None)
        )
    ):
        row.ended_at = now
    session.flush()


def reset_password(session, user: AppUser, actor=None) -> str:
    """Give the account a new one-time password; the person must change it at the next login."""
    from app.security import password_problem

    check_actor_over(user, actor, "đặt lại mật khẩu")
    password = generate_one_time_password()
    while password_problem(password):
        password = generate_one_time_password()
    user.password = hash_password(password)
    user.must_change_password = True
    session.flush()
    return password


def generate_one_time_password(length: int = 12) -> str:
    """A random password that meets the complexity rule."""
    alphabet = string.ascii_letters + string.digits
    while True:
        body = "".join(secrets.choice(alphabet) for _ in range(length - 2))
        candidate = body + secrets.choice("@#$%&*!?") + secrets.choice(string.digits)
        if any(c.isupper() for c in candidate) and any(c.islower() for c in candidate):
            return candidate


def active_holders_of(session, role_names) -> list[int]:
    """Ids of the active accounts holding any of the roles (anywhere), each once, by id."""
    from flask_appbuilder.security.sqla.models import Role, assoc_user_role

    return list(dict.fromkeys(session.scalars(
        select(AppUser.id).join(assoc_user_role, assoc_user_role.c.user_id == AppUser.id)
        .join(Role, Role.id == assoc_user_role.c.role_id)
        .where(AppUser.active.is_(True), Role.name.in_(tuple(role_names)))
        .order_by(AppUser.id))))
