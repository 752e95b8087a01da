"""Small builders for test data: units, accounts, indicators, regimes."""

from __future__ import annotations

from sqlalchemy import select

from app.models import AppUser, Unit, UnitType

PASSWORD = "Thu-nghiem-2026"


def unit_type(session, code: str, name: str | None = None) -> UnitType:
    found = session.scalar(select(UnitType).where(UnitType.code == code))
    if found:
        return found
    found = UnitType(code=code, name=name or code)
    session.add(found)
    session.flush()
    return found


def unit(session, name: str, parent: Unit | None = None, type_code: str = "department", **fields) -> Unit:
    created = Unit(name=name, parent=parent, unit_type=unit_type(session, type_code), **fields)
    session.add(created)
    session.flush()
    return created


def user(session, username: str, home: Unit | None, roles: list[str], **fields) -> AppUser:
    from flask import current_app

    sm = current_app.appbuilder.sm
    # a person who never logs in during the test can skip the (deliberately slow) password hash
    password_hash = fields.pop("password_hash", None)
    role_objects = [sm.find_role(name) for name in roles]
    assert all(role_objects), f"unknown role among {roles}"
    account = AppUser(
        username=username,
        first_name=fields.pop("first_name", username),
        last_name=fields.pop("last_name", "Nguyễn"),
        email=fields.pop("email", f"{username}@example.gov.vn"),
        active=fields.pop("active", True),
        unit=home,
        roles=role_objects,
        **fields,
    )
    from werkzeug.security import generate_password_hash

    account.password = password_hash or generate_password_hash(PASSWORD)
    session.add(account)
    session.flush()
    return account


def login(client, username: str, password: str = PASSWORD):
    return client.post(
        "/login/", data={"username": username, "password": password}, follow_redirects=True
    )
