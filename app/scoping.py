"""Unit scoping: which rows a person may reach.

Every row that belongs to a unit is visible only to people whose home unit is that unit or one
of its ancestors; the provincial admin sees everything. The rule for each model lives here, in
one registry, so screens, the API, exports and jobs share it (the views wrap it in
``ScopedInterface``). A subtree is one prefix match on ``unit.path``: one SQL query, no id lists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import g, has_request_context
from flask_appbuilder.security.sqla.models import Role
from sqlalchemy import false, or_, select
from sqlalchemy.sql.elements import ColumnElement

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
    ReportAttachment,
    ReportSignature,
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
from app.roles import PROVINCIAL_ADMIN


def subtree_units(path: str):
    """Ids of the units in the subtree at ``path``, as a subquery (never a list of ids)."""
    return select(Unit.id).where(Unit.path.like(path + "%")).scalar_subquery()


@dataclass(frozen=True)
class UnitScope:
    """Rows that belong to a unit. ``criterion(path)`` keeps the rows inside the subtree."""

    criterion: Callable[[str], ColumnElement[bool]]
    kind: str = "unit"


@dataclass(frozen=True)
class SharedCatalogue:
    """A province-wide catalogue everyone may read. Only the provincial admin writes it, except
    where ``owner_attr`` names the unit that owns a row: then an admin may write the rows owned
    inside their subtree (and must give new rows such an owner)."""

    reason: str
    owner_attr: str | None = None
    kind: str = "shared"


@dataclass(frozen=True)
class AdminOnly:
    """Reached only by the provincial admin (FAB's security screens, the audit trail)."""

    reason: str
    kind: str = "admin"


SCOPES: dict[type, object] = {
    Unit: UnitScope(lambda path: Unit.path.like(path + "%")),
    AppUser: UnitScope(lambda path: AppUser.unit_id.in_(subtree_units(path))),
    UserUnitHistory: UnitScope(lambda path: UserUnitHistory.unit_id.in_(subtree_units(path))),
    AccessRecord: UnitScope(lambda path: AccessRecord.unit_id.in_(subtree_units(path))),
    RegimeRoleGrant: UnitScope(
        lambda path: RegimeRoleGrant.user_id.in_(
            select(AppUser.id).where(AppUser.unit_id.in_(subtree_units(path))).scalar_subquery()
        )
    ),
    UnitSuccession: UnitScope(
        lambda path: or_(
            UnitSuccession.predecessor_id.in_(subtree_units(path)),
            UnitSuccession.successor_id.in_(subtree_units(path)),
        )
    ),
    Regime: UnitScope(
        lambda path: or_(
            Regime.owner_unit_id.in_(subtree_units(path)),
            Regime.id.in_(_regimes_reported_by(path)),
        )
    ),
    Period: UnitScope(
        lambda path: Period.regime_id.in_(
            select(Regime.id)
            .where(
                or_(
                    Regime.owner_unit_id.in_(subtree_units(path)),
                    Regime.id.in_(_regimes_reported_by(path)),
                )
            )
            .scalar_subquery()
        )
    ),
    Indicator: SharedCatalogue(
        "Danh mục chỉ tiêu dùng chung toàn tỉnh để số liệu cộng được với nhau",
        owner_attr="owner_unit",
    ),
    IndicatorGroup: SharedCatalogue("Nhóm chỉ tiêu dùng chung toàn tỉnh"),
    ValueColumn: SharedCatalogue("Danh mục cột số liệu dùng chung"),
    Breakdown: SharedCatalogue("Danh mục phân tổ dùng chung"),
    BreakdownOption: SharedCatalogue("Danh mục phân tổ dùng chung"),
    UnitType: SharedCatalogue("Loại đơn vị dùng chung"),
    CalendarDay: SharedCatalogue("Lịch nghỉ lễ, làm bù dùng chung toàn quốc"),
    AuditEntry: AdminOnly("Nhật ký thay đổi chỉ quản trị cấp tỉnh xem"),
    ExchangeMessage: AdminOnly("Nhật ký trao đổi với cấp trên do quản trị cấp tỉnh theo dõi"),
    ExchangeFigure: AdminOnly("Số liệu cấp dưới gửi lên do quản trị cấp tỉnh theo dõi"),
    FormVersion: SharedCatalogue(
        "Biểu mẫu dùng chung; đơn vị ban hành sửa biểu mẫu của mình", owner_attr="owner_unit"
    ),
    Report: UnitScope(lambda path: Report.id.in_(_reports_reached_from(path))),
    ReportValue: UnitScope(lambda path: ReportValue.report_id.in_(_reports_reached_from(path))),
    ReportAttachment: UnitScope(
        lambda path: ReportAttachment.report_id.in_(_reports_reached_from(path))
    ),
    Role: SharedCatalogue("Vai trò của hệ thống; vai trò được cấp lọc theo người cấp"),
    # digital signatures: the province's roots of trust; certificates and images of the people
    # and units of the subtree; the signature stages of the reports reached
    DashboardItem: AdminOnly("Bảng điều khiển do quản trị cấp tỉnh cấu hình; ai cũng xem, "
                             "theo phạm vi của mình"),
    TrustAnchor: AdminOnly("Gốc tin cậy và danh sách thu hồi do quản trị cấp tỉnh quản lý"),
    SigningCertificate: UnitScope(lambda path: or_(
        SigningCertificate.unit_id.in_(subtree_units(path)),
        SigningCertificate.person_id.in_(_people_of(path)),
    )),
    StampImage: UnitScope(lambda path: or_(
        StampImage.unit_id.in_(subtree_units(path)), StampImage.person_id.in_(_people_of(path)),
    )),
    ReportSignature: UnitScope(
        lambda path: ReportSignature.report_id.in_(_reports_reached_from(path))
    ),
    # set by the admins of the unit that owns the regime
    IndicatorResponsibility: UnitScope(
        lambda path: IndicatorResponsibility.regime_id.in_(
            select(Regime.id).where(Regime.owner_unit_id.in_(subtree_units(path)))
            .scalar_subquery()
        )
    ),
}


def _people_of(path: str):
    return select(AppUser.id).where(AppUser.unit_id.in_(subtree_units(path))).scalar_subquery()


def _regimes_reported_by(path: str):
    """Regimes that a unit of the subtree reports to: listed by unit or by unit type, or
    holding a report assigned to one of them (app.assignment). Also regimes whose receiving or
    lead unit is in the subtree."""
    from app.models.regimes import regime_reporting_unit, regime_reporting_unit_type

    units = subtree_units(path)
    return (
        select(Regime.id)
        .where(
            or_(
                Regime.lead_unit_id.in_(units),
                Regime.receiving_unit_id.in_(units),
                Regime.id.in_(
                    select(regime_reporting_unit.c.regime_id).where(
                        regime_reporting_unit.c.unit_id.in_(units)
                    )
                ),
                Regime.id.in_(select(Report.regime_id).where(Report.unit_id.in_(units))),
                Regime.id.in_(
                    select(regime_reporting_unit_type.c.regime_id).where(
                        regime_reporting_unit_type.c.unit_type_id.in_(
                            select(Unit.unit_type_id).where(Unit.path.like(path + "%"))
                        )
                    )
                ),
            )
        )
        .scalar_subquery()
    )


# FAB's own security screens: only the provincial admin holds permissions on them.
ADMIN_ONLY_VIEWS = {
    "RoleModelView",
    "PermissionModelView",
    "ViewMenuModelView",
    "PermissionViewModelView",
    "UserGroupModelView",
    "UserStatsChartView",
    "RegisterUserModelView",
    "ApiKeyModelView",
}


def _reports_reached_from(path: str):
    """Reports of units in the subtree, and reports sent to a lead or receiving unit in it."""
    units = subtree_units(path)
    return (
        select(Report.id)
        .join(Regime, Report.regime_id == Regime.id)
        .where(
            or_(
                Report.unit_id.in_(units),
                Regime.lead_unit_id.in_(units),
                Regime.receiving_unit_id.in_(units),
            )
        )
        .scalar_subquery()
    )


def scope_for(model: type):
    for klass in model.__mro__:
        if klass in SCOPES:
            return SCOPES[klass]
    return None


def is_provincial_admin(user) -> bool:
    return any(role.name == PROVINCIAL_ADMIN for role in (user.roles or []))


def current_user():
    if has_request_context():
        user = getattr(g, "user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            if not isinstance(user, AppUser):
                # an API key's account comes as FAB's own User class: the unit is on AppUser
                from app.extensions import db

                user = g.user = db.session.get(AppUser, user.id)
            return user
        # a JWT (/api/v1/security/login) authenticates API calls without a session
        jwt_user = _jwt_user()
        if jwt_user is not None:
            from app.extensions import db

            user = g.user = db.session.get(AppUser, jwt_user.id)
            return user
    return None


def _jwt_user():
    try:
        from flask_jwt_extended import get_current_user
        from flask_jwt_extended.exceptions import JWTExtendedException

        return get_current_user()
    except (RuntimeError, LookupError, JWTExtendedException):
        return None


def user_scope_path(user) -> str | None:
    """The unit path a user is confined to; None means everything (provincial admin).

    A user with no home unit who is not a provincial admin sees nothing (an impossible path).
    """
    if user is None:
        return "/nothing/"
    if is_provincial_admin(user):
        return None
    unit = getattr(user, "unit", None)
    if unit is None or not unit.path:
        return "/nothing/"
    return unit.path


def read_criterion(model: type, user) -> ColumnElement[bool] | None:
    """The WHERE clause that confines reads of ``model`` to ``user``; None when unrestricted."""
    scope = scope_for(model)
    if scope is None:
        raise LookupError(f"No unit scope declared for {model.__name__}")
    path = user_scope_path(user)
    if path is None or isinstance(scope, SharedCatalogue):
        return None
    if isinstance(scope, AdminOnly):
        return false()
    return scope.criterion(path)


def write_criterion(model: type, user) -> ColumnElement[bool] | None:
    """The WHERE clause a row must meet for ``user`` to change or delete it."""
    scope = scope_for(model)
    path = user_scope_path(user)
    if path is None:
        return None
    if isinstance(scope, SharedCatalogue):
        if scope.owner_attr is None:
            return false()
        owner_fk = getattr(model, scope.owner_attr).property.local_columns
        (column,) = tuple(owner_fk)
        return column.in_(subtree_units(path))
    return read_criterion(model, user)


def unit_in_scope(unit: Unit | None, user) -> bool:
    """May ``user`` attach a row to ``unit``?"""
    path = user_scope_path(user)
    if path is None:
        return True
    return unit is not None and bool(unit.path) and unit.path.startswith(path)
