"""Account lifecycle (seed 001 Art. 14, 25.5): deactivate, move with history, password reset."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from app.accounts import deactivate_user, move_user, open_unit_history, reset_password
from app.errors import DomainError, PermissionDenied
from app.models import AppUser, UserUnitHistory
from app.roles import DATA_ENTRY, PROVINCIAL_ADMIN, UNIT_ADMIN
from tests import factories


@pytest.fixture
def world(session):
    province = factories.unit(session, "UBND tỉnh", type_code="province")
    health = factories.unit(session, "Sở Y tế", parent=province)
    ward = factories.unit(session, "Phòng Nghiệp vụ", parent=health)
    finance = factories.unit(session, "Sở Tài chính", parent=province)
    boss = factories.user(session, "tinh", province, [PROVINCIAL_ADMIN])
    admin = factories.user(session, "qtsyt", health, [UNIT_ADMIN])
    clerk = factories.user(session, "nhaplieu", health, [DATA_ENTRY])
    outsider = factories.user(session, "stc", finance, [DATA_ENTRY])
    for account in (boss, admin, clerk, outsider):
        open_unit_history(session, account)
    session.commit()
    return dict(province=province, health=health, ward=ward, finance=finance, boss=boss, admin=admin, clerk=clerk, outsider=outsider)


def history(session, user):
    return session.scalars(
        select(UserUnitHistory).where(UserUnitHistory.user_id == user.id).order_by(UserUnitHistory.id)
    ).all()


def test_move_keeps_history(session, world):
    clerk, admin = world["clerk"], world["admin"]
    move_user(session, clerk, world["ward"], admin, "Điều động")
    session.commit()
    rows = history(session, clerk)
    assert [r.unit_id for r in rows] == [world["health"].id, world["ward"].id]
    assert rows[0].ended_at is not None and rows[1].ended_at is None
    assert rows[1].changed_by_id == admin.id and rows[1].reason == "Điều động"
    assert clerk.unit_id == world["ward"].id


def test_unit_admin_moves_only_inside_subtree(session, world):
    admin = world["admin"]
    with pytest.raises(PermissionDenied, match="Sở Tài chính"):
        move_user(session, world["clerk"], world["finance"], admin, "Chuyển")
    with pytest.raises(PermissionDenied, match="phạm vi quản lý"):
        move_user(session, world["outsider"], world["health"], admin, "Chuyển")
    session.rollback()
    # The provincial admin moves anyone anywhere.
    move_user(session, world["outsider"], world["health"], world["boss"], "Chuyển")
    session.commit()
    assert world["outsider"].unit_id == world["health"].id


def test_deactivate(session, world):
    admin = world["admin"]
    deactivate_user(session, world["clerk"], admin)
    session.commit()
    assert world["clerk"].active is False
    assert history(session, world["clerk"])[-1].ended_at is not None
    with pytest.raises(PermissionDenied):
        deactivate_user(session, world["outsider"], admin)
    with pytest.raises(PermissionDenied, match="quản trị cấp tỉnh"):
        deactivate_user(session, world["boss"], admin)
    with pytest.raises(PermissionDenied):
        deactivate_user(session, world["admin"], world["clerk"])  # not an admin
    with pytest.raises(DomainError):
        deactivate_user(session, admin, admin)
    session.rollback()
    assert world["outsider"].active is True


def test_reset_password(session, world):
    clerk = world["clerk"]
    password = reset_password(session, clerk, world["admin"])
    session.commit()
    assert clerk.must_change_password is True
    assert check_password_hash(clerk.password, password)
    with pytest.raises(PermissionDenied, match="stc"):
        reset_password(session, world["outsider"], world["admin"])


def test_first_login_must_change_password(session, world, client):
    clerk = world["clerk"]
    password = reset_password(session, clerk, world["boss"])
    session.commit()
    page = factories.login(client, "nhaplieu", password)
    assert page.request.path.startswith("/resetmypassword/form")
    # Any other page sends the person back to the form.
    assert client.get("/unitview/list/").headers["Location"].endswith("/resetmypassword/form")
    new = "Mat-khau-moi-2026"
    answer = client.post("/resetmypassword/form", data={"password": new, "conf_password": new})
    assert answer.status_code == 302
    session.expire_all()
    user = session.get(AppUser, clerk.id)
    assert user.must_change_password is False
    assert check_password_hash(user.password, new)
    assert client.get("/unitview/list/").status_code == 200
