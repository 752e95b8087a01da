"""Unit scoping across every registered screen and API.

The test walks ``appbuilder.baseviews``: every ModelView and ModelRestApi must use the scoped
datamodel and have a declared scope, and a unit admin of department A must not reach a row of
department B by list, show, edit, delete, the API (list, get, put, delete) or the choices of
related fields in forms and in the API's ``_info``. A view added without scoping fails here.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from flask_appbuilder import ModelRestApi, ModelView
from sqlalchemy import func, select

from app.models import (
    AccessRecord,
    AppUser,
    AuditEntry,
    Breakdown,
    BreakdownOption,
    CalendarDay,
    DashboardItem,
    ExchangeFigure,
    ExchangeMessage,
    FormVersion,
    Indicator,
    IndicatorGroup,
    IndicatorResponsibility,
    Period,
    Regime,
    RegimeRoleGrant,
    Report,
    ReportValue,
    SigningCertificate,
    StampImage,
    TrustAnchor,
    Unit,
    UnitSuccession,
    UnitType,
    UserUnitHistory,
    ValueColumn,
)
from app.roles import DATA_ENTRY, PROVINCIAL_ADMIN, UNIT_ADMIN
from app.scoping import ADMIN_ONLY_VIEWS, AdminOnly, UnitScope, scope_for
from app.views.base import ScopedInterface
from tests import factories

FOREIGN = "Ngoài-phạm-vi"  # in the names of rows of department B's subtree
SHARED = "Dùng-chung"  # in the names of shared catalogue rows, which everyone may see


@pytest.fixture
def world(session):
    province = factories.unit(session, "UBND tỉnh Thử", type_code="province_committee")
    dept_a = factories.unit(session, "Sở A", parent=province)
    dept_b = factories.unit(session, f"Sở B {FOREIGN}", parent=province)
    commune_a = factories.unit(session, "Xã A1", parent=dept_a, type_code="commune")
    commune_b = factories.unit(session, f"Xã B1 {FOREIGN}", parent=dept_b, type_code="commune")
    factories.user(session, "tinh", province, [PROVINCIAL_ADMIN])
    admin_a = factories.user(session, "qtv_a", dept_a, [UNIT_ADMIN])
    user_b = factories.user(session, "nv_b", dept_b, [DATA_ENTRY], first_name=FOREIGN)
    regime_b = Regime(
        code="CD-B", name=f"Chế độ {FOREIGN}", owner_unit=dept_b, lead_unit=dept_b,
        receiving_unit=dept_b, reporting_units=[commune_b],
    )
    session.add(regime_b)
    session.flush()
    session.commit()
    return {
        "province": province, "a": dept_a, "b": dept_b, "a1": commune_a, "b1": commune_b,
        "admin_a": admin_a, "user_b": user_b, "regime_b": regime_b,
    }


def _foreign_rows(session, world) -> dict[type, object]:
    """One row per scoped model that belongs to department B's subtree."""
    b, b1, user_b, regime_b = world["b"], world["b1"], world["user_b"], world["regime_b"]
    rows = {
        Unit: b1,
        AppUser: user_b,
        Regime: regime_b,
        Period: Period(
            regime=regime_b, frequency="month", year=2026, number=11, label=f"Tháng {FOREIGN}",
            cutoff_start=dt.date(2026, 10, 15), cutoff_end=dt.date(2026, 11, 14),
            deadline=dt.date(2026, 11, 19),
        ),
        UnitSuccession: UnitSuccession(
            predecessor=b1, successor=b, effective_date=dt.date(2025, 7, 1), note=FOREIGN
        ),
        UserUnitHistory: UserUnitHistory(user=user_b, unit=b, reason=FOREIGN),
        RegimeRoleGrant: RegimeRoleGrant(
            user=user_b, role=user_b.roles[0], regime=regime_b
        ),
        Indicator: Indicator(code="CT-B", name=f"Chỉ tiêu {SHARED}", owner_unit=b),
        IndicatorGroup: IndicatorGroup(code="NH-B", name=f"Nhóm {SHARED}"),
        ValueColumn: ValueColumn(key="col_b", name=f"Cột {SHARED}"),
        Breakdown: Breakdown(code="PT-B", name=f"Phân tổ {SHARED}"),
        CalendarDay: CalendarDay(day=dt.date(2026, 12, 31), kind="day_off", name=SHARED),
        UnitType: session.scalar(select(UnitType).where(UnitType.code == "commune")),
    }
    rows[Report] = Report(
        regime=regime_b, period=rows[Period], unit=b1, form_code="CD-B01", state="draft",
        form_version=FormVersion(code="CD-B01", version=1, title=FOREIGN, status="published",
                                 spec_json="{}", content_hash="0" * 64),
    )
    rows[FormVersion] = rows[Report].form_version
    rows[ReportValue] = ReportValue(report=rows[Report], row_key="r1", column_key="c1",
                                    text_value=FOREIGN)
    rows[IndicatorResponsibility] = IndicatorResponsibility(
        regime=regime_b, indicator=rows[Indicator], unit=b1
    )
    rows[BreakdownOption] = BreakdownOption(breakdown=rows[Breakdown], code="x", name=SHARED)
    rows[SigningCertificate] = SigningCertificate(
        sha256="b" * 64, der=b"-", subject=FOREIGN, issuer=FOREIGN, serial="0B",
        not_before=dt.datetime(2026, 1, 1), not_after=dt.datetime(2028, 1, 1), unit=b1,
    )
    rows[StampImage] = StampImage(person=user_b, png=b"-")
    rows[TrustAnchor] = TrustAnchor(kind="root", name=FOREIGN, der=b"-", sha256="c" * 64)
    rows[DashboardItem] = DashboardItem(title=FOREIGN, kind="line", regime=regime_b)
    rows[AccessRecord] = AccessRecord(action="download", user=user_b, unit=b1, target=FOREIGN,
                                      username=user_b.username)
    rows[ExchangeMessage] = ExchangeMessage(
        direction="in", message_id=FOREIGN, message_type="report_data", payload="{}",
        content_hash="d" * 64, unit_code="B1", regime_code=regime_b.code, period_label=FOREIGN)
    rows[ExchangeFigure] = ExchangeFigure(
        message=rows[ExchangeMessage], unit_code="B1", regime_code=regime_b.code,
        form_code="CD-B01", period_frequency="month", period_year=2026, period_number=11,
        period_label=FOREIGN, indicator_code="CT-B", column_key="c1")
    for row in rows.values():
        session.add(row)
    session.flush()
    session.commit()
    rows[AuditEntry] = session.scalars(select(AuditEntry)).first()
    if rows[AuditEntry] is None:
        rows[AuditEntry] = AuditEntry(
            created_at=dt.datetime(2026, 11, 1), actor=FOREIGN, source="test", changes="[]",
            prev_hash="0" * 64, entry_hash="f" * 64,
        )
        session.add(rows[AuditEntry])
        session.commit()
    return rows


def _scoped_views(app):
    views = []
    for view in app.appbuilder.baseviews:
        if isinstance(view, (ModelView, ModelRestApi)) and hasattr(view, "datamodel"):
            views.append(view)
    return views


def test_every_model_view_and_api_is_scoped(app_ctx):
    unscoped = []
    for view in _scoped_views(app_ctx):
        name = type(view).__name__
        if name in ADMIN_ONLY_VIEWS:
            continue
        if not isinstance(view.datamodel, ScopedInterface):
            unscoped.append(f"{name}: datamodel không qua ScopedInterface")
        elif scope_for(view.datamodel.obj) is None:
            unscoped.append(f"{name}: chưa khai báo phạm vi cho {view.datamodel.obj.__name__}")
    assert not unscoped, "Màn hình/API chưa giới hạn theo đơn vị:\n" + "\n".join(unscoped)


def test_admin_only_views_are_granted_to_the_provincial_admin_only(app_ctx, session):
    from flask_appbuilder.security.sqla.models import PermissionView, Role, ViewMenu

    names = {type(v).__name__ for v in app_ctx.appbuilder.baseviews} & ADMIN_ONLY_VIEWS
    assert names, "FAB's security views should be registered"
    holders = session.execute(
        select(Role.name, ViewMenu.name)
        .join(Role.permissions)
        .join(PermissionView.view_menu)
        .where(ViewMenu.name.in_(names), Role.name != PROVINCIAL_ADMIN)
    ).all()
    assert holders == []


def _count(session, model, pk):
    return session.scalar(select(func.count()).select_from(model).where(model.id == pk))


def test_unit_admin_cannot_reach_rows_of_another_unit(app_ctx, session, world):
    rows = _foreign_rows(session, world)
    client = app_ctx.test_client()
    response = factories.login(client, "qtv_a")
    assert response.status_code == 200
    problems: list[str] = []
    checked = set()
    for view in _scoped_views(app_ctx):
        name = type(view).__name__
        if name in ADMIN_ONLY_VIEWS:
            continue
        model = view.datamodel.obj
        scope = scope_for(model)
        row = rows.get(model)
        if row is None:
            problems.append(f"{name}: thiếu dữ liệu thử cho {model.__name__} trong _foreign_rows")
            continue
        checked.add(name)
        pk = row.id
        if isinstance(view, ModelView):
            _check_model_view(client, view, scope, model, pk, session, problems)
        else:
            _check_api(client, view, scope, model, pk, session, problems)
    assert not problems, "\n".join(problems)
    assert {"UnitView", "AppUserView", "RegimeView", "PeriodView", "UnitApi"} <= checked


def _check_model_view(client, view, scope, model, pk, session, problems):
    name = type(view).__name__
    base = view.route_base
    hidden = isinstance(scope, (UnitScope, AdminOnly))
    listing = client.get(f"{base}/list/")
    if listing.status_code == 200 and hidden and FOREIGN in listing.get_data(as_text=True):
        problems.append(f"{name}: danh sách hiện bản ghi của đơn vị khác")
    if "show" in view.base_permissions or "can_show" in view.base_permissions:
        shown = client.get(f"{base}/show/{pk}")
        if hidden and shown.status_code == 200 and FOREIGN in shown.get_data(as_text=True):
            problems.append(f"{name}: xem chi tiết được bản ghi của đơn vị khác")
    if "can_edit" in view.base_permissions:
        before = _snapshot(session, model, pk)
        edit_page = client.get(f"{base}/edit/{pk}")
        if edit_page.status_code == 200 and FOREIGN in edit_page.get_data(as_text=True) and hidden:
            problems.append(f"{name}: mở được form sửa bản ghi của đơn vị khác")
        client.post(f"{base}/edit/{pk}", data={"name": "đã-sửa", "note": "đã-sửa", "code": "X"})
        session.expire_all()
        if _snapshot(session, model, pk) != before:
            problems.append(f"{name}: sửa được bản ghi của đơn vị khác")
    if "can_delete" in view.base_permissions:
        client.post(f"{base}/delete/{pk}")
        session.expire_all()
        if _count(session, model, pk) != 1:
            problems.append(f"{name}: xóa được bản ghi của đơn vị khác")
    if "can_add" in view.base_permissions:
        add_page = client.get(f"{base}/add")
        if add_page.status_code == 200 and FOREIGN in add_page.get_data(as_text=True):
            problems.append(f"{name}: danh sách chọn của form thêm mới có đơn vị ngoài phạm vi")
        if name == "AppUserView" and PROVINCIAL_ADMIN in add_page.get_data(as_text=True):
            problems.append(f"{name}: quản trị đơn vị thấy vai trò quản trị cấp tỉnh để cấp")


def _check_api(client, view, scope, model, pk, session, problems):
    name = type(view).__name__
    base = f"/api/v1/{view.resource_name}"
    hidden = isinstance(scope, (UnitScope, AdminOnly))
    listing = client.get(f"{base}/?q=(page_size:100)")
    if listing.status_code == 200 and hidden:
        ids = listing.get_json()["ids"]
        if pk in ids:
            problems.append(f"{name}: API liệt kê bản ghi của đơn vị khác")
    got = client.get(f"{base}/{pk}")
    if hidden and got.status_code == 200:
        problems.append(f"{name}: API trả về bản ghi của đơn vị khác")
    before = _snapshot(session, model, pk)
    client.put(f"{base}/{pk}", json={"name": "đã-sửa"})
    session.expire_all()
    if _snapshot(session, model, pk) != before:
        problems.append(f"{name}: API sửa được bản ghi của đơn vị khác")
    client.delete(f"{base}/{pk}")
    session.expire_all()
    if _count(session, model, pk) != 1:
        problems.append(f"{name}: API xóa được bản ghi của đơn vị khác")
    info = client.get(f"{base}/_info?q=(keys:!(add_columns,edit_columns))")
    if info.status_code == 200 and FOREIGN in json.dumps(info.get_json(), ensure_ascii=False):
        problems.append(f"{name}: _info liệt kê lựa chọn ngoài phạm vi")


def _snapshot(session, model, pk):
    row = session.get(model, pk)
    if row is None:
        return None
    return {c.key: getattr(row, c.key) for c in model.__mapper__.column_attrs}


def test_unit_tree_shows_only_the_subtree(app_ctx, session, world):
    client = app_ctx.test_client()
    factories.login(client, "qtv_a")
    page = client.get("/units/tree/").get_data(as_text=True)
    assert "Xã A1" in page
    assert FOREIGN not in page
    assert "UBND tỉnh Thử" not in page


def test_unit_admin_cannot_grant_provincial_admin(app_ctx, session, world):
    client = app_ctx.test_client()
    factories.login(client, "qtv_a")
    from flask_appbuilder.security.sqla.models import Role

    admin_role = session.scalar(select(Role).where(Role.name == PROVINCIAL_ADMIN))
    response = client.post(
        "/users/add",
        data={
            "first_name": "Ba", "last_name": "Trần Văn", "username": "tvba",
            "email": "tvba@example.gov.vn", "unit": str(world["a1"].id),
            "roles": [str(admin_role.id)], "active": "y",
            "password": "Mat-khau-2026", "conf_password": "Mat-khau-2026",
        },
        follow_redirects=True,
    )
    assert response.status_code in (200, 400)
    assert session.scalar(select(AppUser).where(AppUser.username == "tvba")) is None


def test_unit_admin_creates_account_inside_subtree(app_ctx, session, world):
    client = app_ctx.test_client()
    factories.login(client, "qtv_a")
    from flask_appbuilder.security.sqla.models import Role

    entry_role = session.scalar(select(Role).where(Role.name == DATA_ENTRY))
    data = {
        "first_name": "Ba", "last_name": "Trần Văn", "username": "tvba",
        "email": "tvba@example.gov.vn", "roles": [str(entry_role.id)], "active": "y",
        "mobile_phone": "+84 912 345 678",
        "password": "Mat-khau-2026", "conf_password": "Mat-khau-2026",
    }
    client.post("/users/add", data=data | {"unit": str(world["b1"].id)}, follow_redirects=True)
    assert session.scalar(select(AppUser).where(AppUser.username == "tvba")) is None
    client.post("/users/add", data=data | {"unit": str(world["a1"].id)}, follow_redirects=True)
    created = session.scalar(select(AppUser).where(AppUser.username == "tvba"))
    assert created is not None and created.unit_id == world["a1"].id
    assert created.mobile_phone == "0912345678"
    history = session.scalars(select(UserUnitHistory).where(UserUnitHistory.user_id == created.id)).all()
    assert [h.unit_id for h in history] == [world["a1"].id]
