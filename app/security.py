"""The security manager: the extended user model, scoped user screens and the seed roles."""

from __future__ import annotations

import re

from flask import abort, flash, g, has_request_context, request
from flask_appbuilder.models.sqla.filters import FilterInFunction
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.sqla.models import Permission, PermissionView, Role, ViewMenu
from flask_appbuilder.security.views import ResetPasswordView, UserDBModelView
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms.validators import DataRequired

from app.errors import DomainError, PermissionDenied
from app.models import AppUser, Unit
from app.passwords import PASSWORD_RULE, password_complexity, password_problem  # noqa: F401
from app.roles import GRANTABLE_BY_UNIT_ADMIN, PROVINCIAL_ADMIN, ROLE_PERMISSIONS, SEED_ROLES
from app.scoping import current_user, is_provincial_admin, read_criterion
from app.views.base import ReadableValuesMixin, ScopedInterface, ScopedWriteMixin
from app.views.login import AuthDBView

READ_PERMISSIONS = frozenset({"can_get", "can_list", "can_show", "can_info", "can_download",
                              "menu_access",
                              # the exchange's catalogue and message schemas (app/views/exchange.py)
                              "can_catalogue", "can_schema"})


def api_key_scopes(text: str | None) -> frozenset[str]:
    """The scopes of an API key as stored by FAB (comma separated); none means read."""
    scopes = {part.strip().lower() for part in (text or "").split(",") if part.strip()}
    return frozenset(scopes or {"read"})


def grantable_role_names() -> list[str]:
    user = current_user()
    if user is not None and is_provincial_admin(user):
        return SEED_ROLES
    return GRANTABLE_BY_UNIT_ADMIN


def check_grantable_roles(roles) -> None:
    allowed = set(grantable_role_names())
    refused = [role.name for role in roles if role.name not in allowed]
    if refused:
        raise PermissionDenied(
            "Bạn không được cấp vai trò: " + ", ".join(refused) + " (chỉ quản trị cấp tỉnh được cấp)."
        )


class AppUserView(ReadableValuesMixin, ScopedWriteMixin, UserDBModelView):
    """Accounts, confined to the admin's unit subtree."""

    datamodel = ScopedInterface(AppUser)
    list_title = _l("Tài khoản người dùng")
    list_columns = ["last_name", "first_name", "username", "unit", "position", "roles", "active"]
    search_columns = [
        "first_name", "last_name", "username", "email", "unit", "position",
        "mobile_phone", "national_id", "active", "roles",
    ]
    show_columns = [
        "first_name", "last_name", "username", "email", "unit", "position", "mobile_phone",
        "national_id", "roles", "active", "must_change_password", "last_login", "login_count",
    ]
    add_columns = [
        "first_name", "last_name", "username", "email", "unit", "position", "mobile_phone",
        "national_id", "roles", "active", "password", "conf_password",
    ]
    edit_columns = [
        "first_name", "last_name", "username", "email", "unit", "position", "mobile_phone",
        "national_id", "roles", "active",
    ]
    label_columns = {
        "first_name": _l("Tên"),
        "last_name": _l("Họ và tên đệm"),
        "username": _l("Tên đăng nhập"),
        "email": _l("Thư điện tử"),
        "unit": _l("Đơn vị"),
        "position": _l("Chức vụ"),
        "mobile_phone": _l("Điện thoại di động"),
        "national_id": _l("Số CCCD"),
        "roles": _l("Vai trò"),
        "active": _l("Đang hoạt động"),
        "must_change_password": _l("Phải đổi mật khẩu"),
        "last_login": _l("Lần đăng nhập cuối"),
        "login_count": _l("Số lần đăng nhập"),
        "password": _l("Mật khẩu"),
        "conf_password": _l("Nhập lại mật khẩu"),
    }
    add_form_query_rel_fields = {"roles": [["name", FilterInFunction, grantable_role_names]]}
    edit_form_query_rel_fields = add_form_query_rel_fields
    validators_columns = {
        "roles": [DataRequired(message="Chọn ít nhất một vai trò.")],
        "unit": [DataRequired(message="Chọn đơn vị của tài khoản.")],
    }

    def _check_account(self, item) -> None:
        from app.accounts import validate_account_fields

        try:
            check_grantable_roles(item.roles or [])
            validate_account_fields(self.datamodel.session, item)
        except DomainError:
            self.datamodel.session.rollback()
            raise

    def pre_add(self, item):
        super().pre_add(item)
        self._check_account(item)

    def pre_update(self, item):
        super().pre_update(item)
        self._check_account(item)
        from app.accounts import record_unit_move_if_changed

        record_unit_move_if_changed(self.datamodel.session, item, actor=current_user())

    def post_add(self, item):
        from app.accounts import open_unit_history
        from app.event_notices import account_created_notice
        from app.notifications import notify

        open_unit_history(self.datamodel.session, item, actor=current_user())
        notify(self.datamodel.session, [account_created_notice(item)])
        self.datamodel.session.commit()


class ScopedResetPasswordView(ResetPasswordView):
    """An admin resets the password of an account inside their subtree only."""

    def _target_in_scope(self) -> None:
        pk = request.args.get("pk")
        user = current_user()
        criterion = read_criterion(AppUser, user)
        query = select(AppUser.id).where(AppUser.id == pk)
        if criterion is not None:
            query = query.where(criterion)
        if pk is None or self.appbuilder.sm.session.execute(query).first() is None:
            abort(404)

    def form_get(self, form):
        self._target_in_scope()

    def form_post(self, form):
        self._target_in_scope()
        problem = password_problem(form.password.data)
        if problem:
            flash(problem, "danger")
            return
        self.appbuilder.sm.reset_password(request.args.get("pk"), form.password.data)
        target = self.appbuilder.sm.session.get(AppUser, int(request.args["pk"]))
        target.must_change_password = True
        self.appbuilder.sm.session.commit()
        flash("Đã đặt lại mật khẩu; người dùng phải đổi mật khẩu ở lần đăng nhập tới.", "info")


class AppSecurityManager(SecurityManager):
    user_model = AppUser
    userdbmodelview = AppUserView
    # the password form with captcha and lockout, and single sign-on beside it
    authdbview = AuthDBView
    resetpasswordview = ScopedResetPasswordView

    def __init__(self, appbuilder):
        super().__init__(appbuilder)
        # FAB gives the user screen a plain datamodel; ours adds the unit scope.
        self.userdbmodelview.datamodel = ScopedInterface(self.user_model)

    # -- API keys: "read" keys only read ------------------------------------------------------
    def validate_api_key(self, api_key_string: str):
        """FAB's check of the key, then its scopes kept for the request: a key issued "read"
        (the default, and every key issued before scopes were offered) only reads; a key
        issued "read,write" may also do what its account's roles allow."""
        user = super().validate_api_key(api_key_string)
        if user is not None:
            key = self.session.query(self.api_key_model).filter(
                self.api_key_model.lookup_hash == self._compute_lookup_hash(api_key_string)
            ).one_or_none()
            g._api_key_scopes = api_key_scopes(getattr(key, "scopes", None))
        return user

    def has_access(self, permission_name, view_name) -> bool:
        if (has_request_context() and getattr(g, "_api_key_user", False)
                and permission_name not in READ_PERMISSIONS
                and "write" not in g.get("_api_key_scopes", ())):
            g._access_refusal = _l(
                "Khóa API này chỉ được đọc: cần khóa có quyền ghi (cấp ở màn hình «Khóa API»).")
            return False
        return super().has_access(permission_name, view_name)

    def exist_permission_on_roles(self, view_name, permission_name, role_ids) -> bool:
        """FAB asks once per menu item and per check; answer from the roles' permission
        pairs, read once per request (a page with a full menu asked ~30 queries)."""
        if not has_request_context():
            return super().exist_permission_on_roles(view_name, permission_name, role_ids)
        key = tuple(sorted(role_ids))
        cache = g.get("_permission_pairs")
        if cache is None or cache[0] != key:
            pairs = set(
                self.session.execute(
                    select(Permission.name, ViewMenu.name)
                    .select_from(PermissionView)
                    .join(Permission, PermissionView.permission_id == Permission.id)
                    .join(ViewMenu, PermissionView.view_menu_id == ViewMenu.id)
                    .join(Role.permissions.property.secondary,
                          Role.permissions.property.secondary.c.permission_view_id
                          == PermissionView.id)
                    .where(Role.permissions.property.secondary.c.role_id.in_(key))
                ).all()
            )
            cache = (key, pairs)
            g._permission_pairs = cache
        return (permission_name, view_name) in cache[1]


def sync_roles(session) -> dict[str, int]:
    """Create the seed roles and set their permissions from ROLE_PERMISSIONS. Idempotent.

    Returns the number of permissions each role holds afterwards.
    """
    roles = {role.name: role for role in session.scalars(select(Role))}
    for name in SEED_ROLES:
        if name not in roles:
            roles[name] = Role(name=name)
            session.add(roles[name])
    session.flush()
    pairs = session.execute(
        select(PermissionView, Permission.name, ViewMenu.name)
        .join(Permission, PermissionView.permission_id == Permission.id)
        .join(ViewMenu, PermissionView.view_menu_id == ViewMenu.id)
    ).all()
    counts: dict[str, int] = {}
    for role_name in SEED_ROLES:
        role = roles[role_name]
        if role_name == PROVINCIAL_ADMIN:
            wanted = [pv for pv, _, _ in pairs]
        else:
            patterns = [
                (re.compile(view + r"\Z"), re.compile(perm + r"\Z"))
                for view, perm in ROLE_PERMISSIONS[role_name]
            ]
            wanted = [
                pv
                for pv, perm, view in pairs
                if any(v.match(view) and p.match(perm) for v, p in patterns)
            ]
        if {pv.id for pv in role.permissions} != {pv.id for pv in wanted}:
            role.permissions = wanted
        counts[role_name] = len(wanted)
    return counts


def current_unit() -> Unit | None:
    user = getattr(g, "user", None)
    return getattr(user, "unit", None)
