"""Publishing a form from an agency's Excel template: upload → preview and mapping → publish.

1. Upload: a regime the admin manages, a form code (the file name by default) and the .xlsx.
   The bytes are checked (app.specs.safety) and parsed (app.specs.loader); errors are listed
   with their sheet, row and column and block the upload; nothing is stored in the database.
2. Preview and mapping: the parsed form drawn exactly as the entry page draws it (entry cells
   highlighted), every indicator row matched to the catalogue (by code, else by name and unit),
   one action that creates the missing catalogue indicators, every value column matched to a
   catalogue column key and, optionally, a breakdown option; the integrity problems are
   recomputed on every post.
3. Publish: only without integrity problems; header texts naming a period become templates;
   an unchanged form gives back the version already published.

Between the steps the workbook and the working spec live in a private temporary folder under a
random token held in the signed session (the spec is too big for the cookie). The browser only
sends choices (catalogue codes and keys), each checked against the catalogue; the spec itself is
never taken back from the browser.
"""

from __future__ import annotations

import os
import re
import secrets
import unicodedata
from pathlib import Path

from flask import abort, flash, redirect, request, url_for
from flask import session as web_session
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional, Regexp

from app.errors import DomainError
from app.extensions import db
from app.models import Breakdown, BreakdownOption, FormVersion, Indicator, Regime, ValueColumn
from app.models.forms import FORM_STATUSES
from app.reports import publish_form_version
from app.scoping import current_user, subtree_units, unit_in_scope, user_scope_path
from app.specs.loader import load_spec
from app.specs.mapping import (
    apply_column_mapping,
    apply_header_templates,
    apply_row_mapping,
    create_missing_indicators,
    integrity_problems,
    suggest_column_mapping,
    suggest_row_mapping,
)
from app.specs.model import FormSpec
from app.specs.safety import UnsafeWorkbook, check_workbook_bytes
from app.uploads import private_folder, sweep
from app.views.base import ScopedInterface, ScopedModelView

SESSION_KEY = "form_upload"
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
CODE_RE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$"
MAX_AGE_SECONDS = 24 * 3600
WORKBOOK_SUFFIX = ".xlsx"
SPEC_SUFFIX = ".spec.json"

MATCH_LABELS = {
    "code": _l("theo mã"),
    "name": _l("theo tên"),
    "manual": _l("chọn tay"),
    "none": _l("chưa khớp"),
}


# -- the private folder -------------------------------------------------------------------------


def storage_dir() -> Path:
    return private_folder("htttbc-forms")


def _sweep(folder: Path) -> None:
    sweep(folder, MAX_AGE_SECONDS)


def _path(token: str, suffix: str) -> Path | None:
    if not token or not TOKEN_RE.match(token):
        return None
    return storage_dir() / f"{token}{suffix}"


def _write(token: str, suffix: str, data: bytes) -> None:
    path = _path(token, suffix)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _read(token: str, suffix: str) -> bytes | None:
    path = _path(token, suffix)
    if path is None or not path.exists():
        return None
    return path.read_bytes()


def _discard(token: str) -> None:
    for suffix in (WORKBOOK_SUFFIX, SPEC_SUFFIX):
        path = _path(token, suffix)
        if path is not None:
            path.unlink(missing_ok=True)


def default_code(filename: str) -> str:
    """A form code from a file name: "Biểu 01-KTXH.xlsx" → "Bieu_01-KTXH"."""
    stem = os.path.splitext(os.path.basename(filename or ""))[0]
    text = unicodedata.normalize("NFD", stem)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    text = text.replace("đ", "d").replace("Đ", "D")
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_.-")
    return text[:60] or "BIEU_MAU"


# -- what an admin may choose -------------------------------------------------------------------


def publishable_regimes(user) -> list[Regime]:
    """Active regimes whose owner unit is inside the user's subtree (all for the province)."""
    query = select(Regime).where(Regime.active).order_by(Regime.code)
    path = user_scope_path(user)
    if path is not None:
        query = query.where(Regime.owner_unit_id.in_(subtree_units(path)))
    return list(db.session.scalars(query))


def publishable_regime(user, regime_id) -> Regime | None:
    try:
        wanted = int(regime_id)
    except (TypeError, ValueError):
        return None
    return next((r for r in publishable_regimes(user) if r.id == wanted), None)


def code_owned_elsewhere(user, code: str) -> FormVersion | None:
    """The latest version of ``code`` when it belongs to a unit outside the user's subtree."""
    latest = db.session.scalars(
        select(FormVersion).where(FormVersion.code == code).order_by(FormVersion.version.desc()).limit(1)
    ).first()
    if latest is None or user_scope_path(user) is None:
        return None
    if latest.owner_unit is not None and unit_in_scope(latest.owner_unit, user):
        return None
    return latest


def keep_previous_mapping(spec: FormSpec) -> None:
    """A new upload of a published code starts from the choices of its latest version: rows
    with the same key and label keep their (still active) indicator, columns with the same key
    keep their catalogue key and breakdown."""
    latest = db.session.scalars(
        select(FormVersion).where(FormVersion.code == spec.code, FormVersion.status == "published")
        .order_by(FormVersion.version.desc()).limit(1)
    ).first()
    if latest is None:
        return
    previous = FormSpec.from_json(latest.spec_json)
    active = set(db.session.scalars(select(Indicator.code).where(Indicator.active)))
    old_rows = {(r.key, r.label): r.indicator_code for r in previous.rows if r.indicator_code}
    apply_row_mapping(spec, {
        r.key: old_rows[(r.key, r.label)] for r in spec.rows
        if r.kind == "indicator" and old_rows.get((r.key, r.label)) in active
    })
    old_columns = {c.key: c for c in _value_columns(previous)}
    keys = set(db.session.scalars(select(ValueColumn.key)))
    columns, breakdowns = {}, {}
    for column in _value_columns(spec):
        old = old_columns.get(column.key)
        if old is None:
            continue
        if old.catalogue_key in keys:
            columns[column.key] = old.catalogue_key
        breakdowns[column.key] = old.breakdown
    apply_column_mapping(spec, columns, breakdowns)


class FormUploadForm(FlaskForm):
    regime = SelectField(_l("Chế độ báo cáo"), validate_choice=False)
    code = StringField(
        _l("Mã biểu mẫu"),
        validators=[
            Optional(),
            Length(max=60),
            Regexp(CODE_RE, message=_l("Mã biểu mẫu chỉ gồm chữ không dấu, số, dấu chấm, gạch ngang, gạch dưới.")),
        ],
    )
    file = FileField(
        _l("Tệp mẫu biểu Excel (.xlsx)"),
        validators=[
            FileRequired(_l("Chọn tệp mẫu biểu.")),
            FileAllowed(["xlsx"], _l("Chỉ nhận tệp Excel (.xlsx).")),
        ],
    )


class MappingForm(FlaskForm):
    """No fields of its own: the choices are read from the post and checked; CSRF only."""


# -- the screens --------------------------------------------------------------------------------


class FormUploadView(BaseView):
    """Upload a template for a regime, preview and map it, publish it as a new version."""

    route_base = "/forms/upload"
    default_view = "upload"

    def _user(self):
        user = current_user()
        if user is None:
            abort(403)
        return user

    # -- step 1 ---------------------------------------------------------------------------------
    @expose("/", methods=["GET", "POST"])
    @has_access
    def upload(self):
        user = self._user()
        regimes = publishable_regimes(user)
        form = FormUploadForm()
        form.regime.choices = [("", _("— Chọn chế độ báo cáo —"))] + [
            (str(r.id), f"{r.code} — {r.name}") for r in regimes
        ]
        problems = []
        if not regimes:
            flash(_("Bạn chưa quản lý chế độ báo cáo nào nên chưa ban hành được biểu mẫu."), "warning")
        if form.validate_on_submit():
            regime = publishable_regime(user, form.regime.data)
            upload = form.file.data
            filename = os.path.basename((upload.filename or "bieu_mau.xlsx").replace("\\", "/"))
            code = (form.code.data or "").strip() or default_code(filename)
            if regime is None:
                flash(_("Chọn một chế độ báo cáo thuộc phạm vi quản lý của bạn."), "danger")
                return self._render_upload(form, problems, status=422)
            data = upload.read()
            try:
                check_workbook_bytes(data, filename)
            except UnsafeWorkbook as error:
                flash(error.message, "danger")
                return self._render_upload(form, problems, status=422)
            owner = code_owned_elsewhere(user, code)
            if owner is not None:
                flash(_("Mã biểu mẫu «%(code)s» đã được đơn vị khác ban hành; chọn mã khác.", code=code), "danger")
                return self._render_upload(form, problems, status=422)
            spec = load_spec(data, filename=filename, code=code)
            if spec.errors:
                flash(_("Mẫu biểu còn lỗi, chưa đọc được: sửa tệp Excel rồi tải lên lại."), "danger")
                return self._render_upload(form, spec.problems, status=422)
            matches = suggest_row_mapping(db.session, spec)
            apply_row_mapping(spec, {m.row_key: m.indicator_code for m in matches})
            apply_column_mapping(spec, suggest_column_mapping(db.session, spec))
            keep_previous_mapping(spec)
            _sweep(storage_dir())
            token = secrets.token_urlsafe(24)
            _write(token, WORKBOOK_SUFFIX, data)
            _write(token, SPEC_SUFFIX, spec.to_json().encode("utf-8"))
            web_session[SESSION_KEY] = {
                "token": token,
                "user_id": user.id,
                "regime_id": regime.id,
                "filename": filename,
            }
            return redirect(url_for("FormUploadView.mapping", token=token))
        for errors in form.errors.values():
            for message in errors:
                flash(str(message), "danger")
        return self._render_upload(form, problems, status=422 if form.errors else 200)

    def _render_upload(self, form, problems, status=200):
        return (
            self.render_template(
                "forms_admin/upload.html",
                form=form,
                problems=problems,
                errors=[p for p in problems if p.severity == "error"],
            ),
            status,
        )

    # -- step 2 and 3 ---------------------------------------------------------------------------
    def _pending(self, token: str):
        """(pending dict, spec, workbook bytes, regime), or None with a message when expired."""
        pending = web_session.get(SESSION_KEY) or {}
        user = self._user()
        if pending.get("token") != token or pending.get("user_id") != user.id:
            return None
        spec_bytes = _read(token, SPEC_SUFFIX)
        workbook = _read(token, WORKBOOK_SUFFIX)
        if spec_bytes is None or workbook is None:
            return None
        regime = publishable_regime(user, pending.get("regime_id"))
        if regime is None:
            return None
        return pending, FormSpec.from_json(spec_bytes.decode("utf-8")), workbook, regime

    def _expired(self):
        flash(_("Phiên tải biểu mẫu đã hết hạn hoặc không hợp lệ: tải tệp lên lại."), "warning")
        return redirect(url_for("FormUploadView.upload"))

    @expose("/<token>", methods=["GET", "POST"])
    @has_access
    def mapping(self, token):
        found = self._pending(token)
        if found is None:
            return self._expired()
        pending, spec, workbook, regime = found
        if request.method == "GET":
            return self._render_mapping(token, spec, regime, pending)
        form = MappingForm()
        if not form.validate_on_submit():
            return self._expired()
        choice_errors = self._apply_posted(spec)
        action = request.form.get("action", "check")
        if choice_errors:
            for message in choice_errors:
                flash(message, "danger")
            _write(token, SPEC_SUFFIX, spec.to_json().encode("utf-8"))
            return self._render_mapping(token, spec, regime, pending, status=422)
        if action == "create_missing":
            missing = [r.key for r in spec.rows if r.kind == "indicator" and not r.indicator_code]
            if missing:
                created = create_missing_indicators(
                    db.session, spec, missing, owner_unit=regime.owner_unit
                )
                db.session.commit()
                flash(_("Đã tạo %(count)d chỉ tiêu mới trong danh mục và gắn vào các dòng chưa khớp.",
                        count=len(created)), "success")
            else:
                flash(_("Mọi dòng chỉ tiêu đã được gắn với danh mục."), "info")
            _write(token, SPEC_SUFFIX, spec.to_json().encode("utf-8"))
            return redirect(url_for("FormUploadView.mapping", token=token))
        _write(token, SPEC_SUFFIX, spec.to_json().encode("utf-8"))
        if action == "publish":
            return self._publish(token, spec, workbook, regime, pending)
        flash(_("Đã ghi nhận cách gắn chỉ tiêu và cột số liệu."), "info")
        return redirect(url_for("FormUploadView.mapping", token=token))

    def _publish(self, token, spec: FormSpec, workbook: bytes, regime: Regime, pending):
        user = self._user()
        apply_header_templates(spec)
        problems = integrity_problems(spec)
        if problems:
            flash(_("Chưa ban hành được: còn %(count)d vấn đề cần sửa (xem danh sách bên dưới).",
                    count=len(problems)), "danger")
            return self._render_mapping(token, spec, regime, pending, status=422)
        if code_owned_elsewhere(user, spec.code) is not None:
            flash(_("Mã biểu mẫu «%(code)s» đã được đơn vị khác ban hành; chọn mã khác.", code=spec.code), "danger")
            return self._render_mapping(token, spec, regime, pending, status=422)
        latest_before = db.session.scalars(
            select(FormVersion.id).where(FormVersion.code == spec.code)
            .order_by(FormVersion.version.desc()).limit(1)
        ).first()
        try:
            version = publish_form_version(
                db.session, spec, regime=regime, owner_unit=regime.owner_unit,
                source_workbook=workbook, actor=user,
            )
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
            return self._render_mapping(token, spec, regime, pending, status=422)
        except IntegrityError:
            db.session.rollback()
            flash(_("Một phiên bản khác của biểu mẫu vừa được ban hành: thử lại."), "danger")
            return self._render_mapping(token, spec, regime, pending, status=409)
        _discard(token)
        web_session.pop(SESSION_KEY, None)
        if version.id == latest_before:
            flash(_("Biểu mẫu %(code)s không thay đổi so với phiên bản %(version)d đang dùng; không tạo phiên bản mới.",
                    code=version.code, version=version.version), "info")
        else:
            flash(_("Đã ban hành biểu mẫu %(code)s, phiên bản %(version)d.",
                    code=version.code, version=version.version), "success")
        return redirect(url_for("FormVersionView.show", pk=version.id))

    def _apply_posted(self, spec: FormSpec) -> list[str]:
        """Apply the choices of the post, each checked against the catalogue; return refusals."""
        errors = []
        active = set(db.session.scalars(select(Indicator.code).where(Indicator.active)))
        rows = {}
        for row in spec.rows:
            if row.kind != "indicator":
                continue
            field = f"row:{row.key}"
            if field not in request.form:
                continue
            code = request.form.get(field, "").strip()
            if code and code not in active:
                errors.append(_("Dòng %(row)d: chỉ tiêu «%(code)s» không có trong danh mục đang áp dụng.",
                                row=row.row, code=code))
                continue
            rows[row.key] = code or None
        apply_row_mapping(spec, rows)
        keys = set(db.session.scalars(select(ValueColumn.key)))
        options = {value for value, _label in self._breakdown_options()}
        columns, breakdowns = {}, {}
        for column in _value_columns(spec):
            field = f"col:{column.key}"
            if field in request.form:
                key = request.form.get(field, "").strip()
                if key and key not in keys:
                    errors.append(_("Cột %(letter)s: khóa cột «%(key)s» không có trong danh mục.",
                                    letter=column.letter, key=key))
                else:
                    columns[column.key] = key or None
            field = f"bd:{column.key}"
            if field in request.form:
                option = request.form.get(field, "").strip()
                if option and option not in options:
                    errors.append(_("Cột %(letter)s: phân tổ «%(option)s» không có trong danh mục.",
                                    letter=column.letter, option=option))
                else:
                    breakdowns[column.key] = option or None
        apply_column_mapping(spec, columns, breakdowns)
        return errors

    @staticmethod
    def _breakdown_options() -> list[tuple[str, str]]:
        rows = db.session.execute(
            select(Breakdown.code, Breakdown.name, BreakdownOption.code, BreakdownOption.name)
            .join(BreakdownOption, BreakdownOption.breakdown_id == Breakdown.id)
            .order_by(Breakdown.code, BreakdownOption.sort_order, BreakdownOption.code)
        ).all()
        return [(f"{b_code}:{o_code}", f"{b_name}: {o_name}") for b_code, b_name, o_code, o_name in rows]

    def _render_mapping(self, token, spec: FormSpec, regime: Regime, pending, status=200):
        from app.views.entry import build_grid

        suggestions = {m.row_key: m for m in suggest_row_mapping(db.session, spec)}
        indicator_rows = []
        for row in spec.rows:
            if row.kind != "indicator":
                continue
            match = suggestions.get(row.key)
            how = match.how if match else "none"
            if row.indicator_code and (match is None or match.indicator_code != row.indicator_code):
                how = "manual"
            elif not row.indicator_code:
                how = "none"
            indicator_rows.append({"row": row, "how": how, "how_label": str(MATCH_LABELS[how])})
        indicators = db.session.execute(
            select(Indicator.code, Indicator.name, Indicator.unit_of_measure)
            .where(Indicator.active).order_by(Indicator.code)
        ).all()
        catalogue_columns = db.session.execute(
            select(ValueColumn.key, ValueColumn.name).order_by(ValueColumn.sort_order, ValueColumn.key)
        ).all()
        return (
            self.render_template(
                "forms_admin/mapping.html",
                token=token,
                spec=spec,
                regime=regime,
                filename=pending.get("filename"),
                sheets=build_grid(spec, {}, editable=True, preview=True),
                indicator_rows=indicator_rows,
                unmatched=[item["row"] for item in indicator_rows if not item["row"].indicator_code],
                indicators=indicators,
                value_columns=list(_value_columns(spec)),
                catalogue_columns=catalogue_columns,
                breakdown_options=self._breakdown_options(),
                warnings=[p for p in spec.problems if p.severity != "error"],
                problems=integrity_problems(spec),
                entry_count=len(spec.entry_cells),
                form=MappingForm(),
            ),
            status,
        )


def _value_columns(spec: FormSpec):
    for sheet in spec.sheets:
        for table in sheet.tables:
            for column in table.columns:
                if column.role == "value":
                    yield column


class FormVersionView(ScopedModelView):
    """The published form versions: read only; new versions come from the upload screen."""

    datamodel = ScopedInterface(FormVersion)
    route_base = "/forms"
    base_permissions = ["can_list", "can_show"]
    list_title = _l("Biểu mẫu đã ban hành")
    show_title = _l("Biểu mẫu")
    list_columns = ["code", "version", "title", "regime", "status", "published_at"]
    show_columns = [
        "code", "version", "title", "regime", "owner_unit", "status", "source_filename",
        "published_at", "created_at",
    ]
    search_columns = ["code", "title", "regime", "status"]
    order_columns = ["code", "version", "published_at"]
    base_order = ("published_at", "desc")
    label_columns = {
        "code": _l("Mã biểu"),
        "version": _l("Phiên bản"),
        "title": _l("Tên biểu mẫu"),
        "regime": _l("Chế độ báo cáo"),
        "owner_unit": _l("Đơn vị ban hành"),
        "status": _l("Trạng thái"),
        "source_filename": _l("Tệp mẫu gốc"),
        "published_at": _l("Ban hành lúc"),
        "created_at": _l("Tạo lúc"),
    }
    formatters_columns = {"status": lambda status: FORM_STATUSES.get(status, status)}
