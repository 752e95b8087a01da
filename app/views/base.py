"""Scoped building blocks for every generated screen and API.

``ScopedInterface`` adds the unit-scope WHERE clause of ``app.scoping`` to every query FAB makes
through a datamodel: lists, show/edit/delete lookups, exports, and the related-field choices
of forms and of the API's ``_info``. ``ScopedWriteMixin`` refuses writes outside the scope.
"""

from __future__ import annotations

from flask import abort, current_app, request
from flask_appbuilder import ModelRestApi, ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from wtforms import BooleanField, validators

from app.errors import DomainError, PermissionDenied
from app.formatting import display_value
from app.models import Report, Unit
from app.scoping import (
    AdminOnly,
    SharedCatalogue,
    current_user,
    is_provincial_admin,
    read_criterion,
    scope_for,
    unit_in_scope,
    write_criterion,
)


def check_csrf() -> None:
    """Refuse a form or JSON post without this session's CSRF token (field or X-CSRFToken)."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    from flask_wtf.csrf import ValidationError, validate_csrf

    token = request.headers.get("X-CSRFToken") or request.form.get("csrf_token")
    try:
        validate_csrf(token)
    except ValidationError:
        abort(400, description=_("Phiên làm việc đã hết hạn: tải lại trang rồi thử lại."))


def readable_report_or_404(report_id: int) -> Report:
    """The report, if the current user may read it (app.scoping); else 404."""
    from app.extensions import db

    query = select(Report).where(Report.id == report_id)
    criterion = read_criterion(Report, current_user())
    if criterion is not None:
        query = query.where(criterion)
    report = db.session.scalars(query).first()
    if report is None:
        abort(404)
    return report


class ScopedInterface(SQLAInterface):
    def _scoped(self, query):
        criterion = read_criterion(self.obj, current_user())
        return query if criterion is None else query.filter(criterion)

    def query_count(self, query, filters=None, select_columns=None):
        return super().query_count(self._scoped(query), filters, select_columns)

    def apply_all(self, query, *args, **kwargs):
        return super().apply_all(self._scoped(query), *args, **kwargs)

    def get_related_interface(self, col_name):
        return ScopedInterface(self.get_related_model(col_name), self.session)

    def get_related_obj(self, col_name, value):
        related = self.get_related_interface(col_name)
        return related.get(value)


def check_write_scope(item) -> None:
    """Raise PermissionDenied unless the current user may write ``item`` as it now stands."""
    user = current_user()
    if user is None:
        raise PermissionDenied("Bạn cần đăng nhập để thực hiện thao tác này.")
    if is_provincial_admin(user):
        return
    model = type(item)
    state = sa_inspect(item)
    session = state.session
    scope = scope_for(model)
    if isinstance(scope, (SharedCatalogue, AdminOnly)) and not state.persistent:
        owner_attr = getattr(scope, "owner_attr", None)
        if owner_attr is None or not unit_in_scope(getattr(item, owner_attr), user):
            raise PermissionDenied(
                "Danh mục này dùng chung toàn tỉnh: chỉ quản trị cấp tỉnh được thêm mới"
                + (", hoặc chọn đơn vị chịu trách nhiệm thuộc phạm vi của bạn." if owner_attr else ".")
            )
    if state.persistent:
        criterion = write_criterion(model, user)
        if criterion is not None:
            pk = state.mapper.primary_key[0]
            with session.no_autoflush:
                allowed = session.query(pk).filter(pk == state.identity[0], criterion).first()
            if allowed is None:
                raise PermissionDenied(
                    "Bản ghi này thuộc đơn vị ngoài phạm vi quản lý của bạn; bạn không được sửa hoặc xóa."
                )
    for rel in state.mapper.relationships:
        if rel.mapper.class_ is not Unit or rel.uselist:
            continue
        history = state.attrs[rel.key].history
        if state.persistent and not history.has_changes():
            continue
        unit = getattr(item, rel.key)
        if unit is None:
            continue
        if not unit_in_scope(unit, user):
            raise PermissionDenied(
                f"Đơn vị «{unit.name}» nằm ngoài phạm vi quản lý của bạn (trường {rel.key})."
            )


# what people call the rows that may still point at a row someone wants to delete
TABLE_WORDS = {
    "report": "báo cáo", "report_value": "giá trị số liệu", "period": "kỳ báo cáo",
    "regime": "chế độ báo cáo", "unit": "đơn vị", "ab_user": "tài khoản",
    "indicator": "chỉ tiêu", "form_version": "biểu mẫu", "report_event": "bước xử lý báo cáo",
    "report_version": "bản đã gửi", "user_unit_history": "lịch sử đơn vị công tác",
}


def check_unreferenced(item) -> None:
    """Raise DomainError, naming what still uses it, when other rows point at ``item`` (a
    period that has reports, a unit with sub-units or accounts…). The database would refuse
    the delete anyway; this says why in words, on every database. Rows the ORM removes with
    the item (association tables, delete cascades) do not count."""
    from sqlalchemy import func

    state = sa_inspect(item)
    if not state.persistent:
        return
    session, mapper = state.session, state.mapper
    removed_with_it = set()
    for rel in mapper.relationships:
        if rel.secondary is not None:
            removed_with_it.add(rel.secondary.name)
        elif rel.cascade.delete:
            removed_with_it.add(rel.mapper.local_table.name)
    table, pk = mapper.local_table, state.identity[0]
    used = []
    with session.no_autoflush:
        for other in table.metadata.sorted_tables:
            if other.name in removed_with_it:
                continue
            for fk in other.foreign_keys:
                if fk.column.table is not table or (fk.ondelete or "").upper() in (
                        "CASCADE", "SET NULL"):
                    continue
                count = session.scalar(
                    select(func.count()).select_from(other).where(fk.parent == pk))
                if count:
                    used.append(f"{count} {TABLE_WORDS.get(other.name, other.name)}")
    if used:
        raise DomainError(_("Không xóa được vì còn %(what)s dùng bản ghi này.",
                            what=", ".join(dict.fromkeys(used))))


class ScopedWriteMixin:
    """pre_add / pre_update / pre_delete hooks that keep writes inside the user's subtree."""

    def _refuse_outside_scope(self, item) -> None:
        try:
            check_write_scope(item)
        except PermissionDenied:
            self.datamodel.session.rollback()
            raise

    def pre_add(self, item):
        self._refuse_outside_scope(item)

    def pre_update(self, item):
        self._refuse_outside_scope(item)

    def pre_delete(self, item):
        self._refuse_outside_scope(item)
        from app.retention import check_deletable

        check_deletable(self.datamodel.session.connection(), item)
        check_unreferenced(item)


BLANK_CHOICE = _l("— Không chọn —")


class ReadableValuesMixin:
    """Every list and detail screen shows values as people read them (app.formatting), and
    optional drop-downs offer a labelled empty choice instead of FAB's bare "__None"."""

    def _init_properties(self):
        super()._init_properties()
        columns = set(self.list_columns or []) | set(self.show_columns or [])
        explicit = dict(self.formatters_columns or {})
        formatters = {}
        for column in columns:
            given = explicit.get(column)
            if given is None:
                formatters[column] = display_value
            else:
                formatters[column] = lambda value, given=given: (
                    "" if value is None else display_value(given(value))
                )
        self.formatters_columns = formatters

    def _init_forms(self):
        super()._init_forms()
        for form in (getattr(self, "add_form", None), getattr(self, "edit_form", None),
                     getattr(self, "search_form", None)):
            if form is None:
                continue
            for name in dir(form):
                unbound = getattr(form, name, None)
                kwargs = getattr(unbound, "kwargs", None)
                if isinstance(kwargs, dict) and kwargs.get("allow_blank"):
                    kwargs.setdefault("blank_text", BLANK_CHOICE)
                    if not kwargs["blank_text"]:
                        kwargs["blank_text"] = BLANK_CHOICE
                # FAB marks a NOT NULL column's field InputRequired; an unticked checkbox sends
                # nothing, so a yes/no column could never be set to "no" without this
                if getattr(unbound, "field_class", None) is BooleanField and kwargs:
                    kwargs["validators"] = [
                        v for v in kwargs.get("validators") or []
                        if not isinstance(v, (validators.InputRequired, validators.DataRequired))
                    ]


class ScopedModelView(ReadableValuesMixin, ScopedWriteMixin, ModelView):
    """A generated screen whose rows and choices are confined to the user's unit subtree."""

    page_size = 50


def refusal_403(api):
    """FAB's 403 with the reason in Vietnamese (a read-only API key, or a missing role)."""
    from flask import g

    reason = g.pop("_access_refusal", None)
    return api.response(403, message=str(reason or _(
        "Tài khoản không có quyền thực hiện thao tác này (theo vai trò được cấp).")))


class ScopedModelRestApi(ScopedWriteMixin, ModelRestApi):
    """A generated REST API with the same scoping as the screens."""

    allow_browser_login = True
    page_size = 50

    def response_403(self):
        return refusal_403(self)

    def _refused(self, error: DomainError):
        self.datamodel.session.rollback()
        status = 403 if isinstance(error, PermissionDenied) else 422
        return self.response(status, message=error.message)

    def _related_problem(self, columns):
        """A 422 answer when a related field of the posted JSON is not the id (or, for a
        list, the ids) of a row the caller can see; None when they all are. Checked before
        FAB's schema, which would otherwise create a new related row out of a posted object,
        or fail on one (a server error)."""
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return None
        for name in columns:
            if name not in data or not self.datamodel.is_relation(name):
                continue
            value = data[name]
            many = (self.datamodel.is_relation_many_to_many(name)
                    or self.datamodel.is_relation_one_to_many(name))
            ids = value if many and isinstance(value, list) else [value]
            if value is None and not many:
                continue
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in ids):
                return self.response_422(message={name: [_(
                    "Trường «%(field)s» nhận số hiệu (id) của bản ghi liên quan%(many)s.",
                    field=name, many=_(", dạng danh sách") if many else "")]})
            related = self.datamodel.get_related_interface(name)
            found = {related.get_pk_value(row) for row in
                     (related.get(v) for v in set(ids)) if row is not None}
            missing = sorted(set(ids) - found)
            if missing:
                return self.response_422(message={name: [_(
                    "Trường «%(field)s»: không có bản ghi số hiệu %(ids)s trong phạm vi của bạn.",
                    field=name, ids=", ".join(str(v) for v in missing))]})
        return None

    def post_headless(self):
        problem = self._related_problem(self.add_columns)
        if problem is not None:
            return problem
        try:
            return super().post_headless()
        except DomainError as error:
            return self._refused(error)

    def put_headless(self, pk):
        problem = self._related_problem(self.edit_columns)
        if problem is not None:
            return problem
        try:
            return super().put_headless(pk)
        except DomainError as error:
            return self._refused(error)

    def delete_headless(self, pk):
        try:
            return super().delete_headless(pk)
        except DomainError as error:
            return self._refused(error)
