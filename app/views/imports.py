"""Screens for the three file imports: upload → dry run → confirm → result.

The uploaded file is kept in a private temporary folder under a random token held in the
signed session; confirming re-reads that file and re-checks every row, so nothing parsed is
ever taken back from the browser. The logins workbook of an account import is offered once,
then deleted.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from flask import abort, flash, redirect, send_file, url_for
from flask import session as web_session
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired

from app.extensions import db
from app.scoping import current_user, is_provincial_admin
from app.uploads import private_folder, sweep

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
MAX_AGE_SECONDS = 24 * 3600


class UploadForm(FlaskForm):
    file = FileField(
        "Tệp cần nhập",
        validators=[
            FileRequired("Chọn tệp cần nhập."),
            FileAllowed(["xlsx", "csv"], "Chỉ nhận tệp Excel (.xlsx) hoặc CSV (.csv)."),
        ],
    )


class ConfirmForm(FlaskForm):
    """No fields: the file is the one kept on the server; the form carries the CSRF token."""


def storage_dir() -> Path:
    return private_folder("htttbc-imports")


def _sweep(folder: Path) -> None:
    sweep(folder, MAX_AGE_SECONDS)


def _save_private(data: bytes, suffix: str) -> str:
    folder = storage_dir()
    _sweep(folder)
    token = secrets.token_urlsafe(24)
    fd = os.open(folder / f"{token}{suffix}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return token


def _private_path(token: str, suffix: str) -> Path | None:
    if not token or not TOKEN_RE.match(token):
        return None
    path = storage_dir() / f"{token}{suffix}"
    return path if path.exists() else None


class ImportBaseView(BaseView):
    default_view = "upload"
    kind = ""
    title = ""
    help_columns: list[str] = []
    template_dir = "imports"

    # "module:function" of the import: (session, path, filename, dry_run=, actor_scope_unit=)
    import_function = ""

    def run(self, path, filename: str, dry_run: bool):
        """Run this page's import inside the admin's scope (the account page has its own)."""
        import importlib

        module_name, _, function_name = self.import_function.partition(":")
        import_rows = getattr(importlib.import_module(module_name), function_name)
        scope = self._scope_unit()
        if scope is False:
            return None
        return import_rows(db.session, path, filename, dry_run=dry_run, actor_scope_unit=scope)

    @property
    def session_key(self) -> str:
        return f"import_{self.kind}"

    def _scope_unit(self):
        """None for a provincial admin; the admin's home unit otherwise (refused when none)."""
        user = current_user()
        if user is None:
            abort(403)
        if is_provincial_admin(user):
            return None
        if user.unit is None:
            flash("Tài khoản của bạn chưa thuộc đơn vị nào nên không nhập được dữ liệu.", "danger")
            return False
        return user.unit

    def _render(self, template: str, **context):
        return self.render_template(
            f"imports/{template}.html",
            title=self.title,
            kind=self.kind,
            help_columns=self.help_columns,
            upload_url=url_for(f"{self.__class__.__name__}.upload"),
            confirm_url=url_for(f"{self.__class__.__name__}.confirm"),
            **context,
        )

    @expose("/", methods=["GET", "POST"])
    @has_access
    def upload(self):
        form = UploadForm()
        if form.validate_on_submit():
            upload = form.file.data
            filename = os.path.basename(upload.filename or "tep.xlsx")
            suffix = ".csv" if filename.lower().endswith(".csv") else ".xlsx"
            token = _save_private(upload.read(), suffix)
            web_session[self.session_key] = {
                "token": token,
                "filename": filename,
                "suffix": suffix,
                "user_id": current_user().id,
            }
            result = self.run(_private_path(token, suffix), filename, dry_run=True)
            db.session.rollback()
            if result is None:
                return redirect(url_for(f"{self.__class__.__name__}.upload"))
            return self._render("preview", result=result, confirm_form=ConfirmForm())
        for errors in form.errors.values():
            for message in errors:
                flash(message, "danger")
        return self._render("upload", form=form)

    @expose("/confirm", methods=["POST"])
    @has_access
    def confirm(self):
        form = ConfirmForm()
        pending = web_session.get(self.session_key)
        if not form.validate_on_submit() or not pending or pending.get("user_id") != current_user().id:
            flash("Phiên nhập tệp đã hết hạn hoặc không hợp lệ: tải tệp lên lại.", "warning")
            return redirect(url_for(f"{self.__class__.__name__}.upload"))
        path = _private_path(pending["token"], pending["suffix"])
        if path is None:
            web_session.pop(self.session_key, None)
            flash("Không còn tệp đã tải lên: tải tệp lên lại.", "warning")
            return redirect(url_for(f"{self.__class__.__name__}.upload"))
        result = self.run(path, pending["filename"], dry_run=False)
        if result is None:
            return redirect(url_for(f"{self.__class__.__name__}.upload"))
        if result.written:
            path.unlink(missing_ok=True)
            web_session.pop(self.session_key, None)
            flash(result.summary(), "success")
        else:
            db.session.rollback()
            flash(result.summary(), "danger")
        extra = self.after_write(result)
        return self._render("result", result=result, confirm_form=ConfirmForm(), **extra)

    def after_write(self, result) -> dict:
        return {}


class UnitImportView(ImportBaseView):
    route_base = "/import/units"
    kind = "units"
    title = "Nhập danh sách đơn vị từ tệp"
    help_columns = [
        "Tên đơn vị (bắt buộc)", "Tên viết tắt", "Loại đơn vị (mã hoặc tên)", "Mã hành chính (2 hoặc 5 chữ số)",
        "Mã nội bộ", "Đơn vị cấp trên (mã nội bộ, mã hành chính hoặc tên)", "Hiệu lực từ", "Hiệu lực đến",
        "Đang hoạt động (Có/Không)",
    ]

    import_function = "app.imports.units_file:import_units"


class IndicatorImportView(ImportBaseView):
    route_base = "/import/indicators"
    kind = "indicators"
    title = "Nhập danh mục chỉ tiêu từ tệp"
    help_columns = [
        "Mã chỉ tiêu (bắt buộc)", "Tên chỉ tiêu (bắt buộc)", "Đơn vị tính", "Phương pháp tính",
        "Kiểu giá trị", "Tổng hợp theo đơn vị", "Tổng hợp theo thời gian", "Tử số (mã chỉ tiêu)",
        "Mẫu số (mã chỉ tiêu)", "Nhóm (mã hoặc tên; nhóm chưa có sẽ được tạo)",
        "Đơn vị chịu trách nhiệm (mã nội bộ hoặc tên)", "Hiệu lực từ", "Hiệu lực đến",
    ]

    import_function = "app.imports.indicators_file:import_indicators"


class AccountImportView(ImportBaseView):
    route_base = "/import/accounts"
    kind = "accounts"
    title = "Nhập danh sách đề nghị cấp tài khoản"
    help_columns = [
        "STT", "Loại tài khoản/vai trò (bắt buộc)", "Họ tên (bắt buộc)", "Đơn vị (bắt buộc)", "Chức vụ",
        "Email (bắt buộc)", "Điện thoại di động",
    ]

    def run(self, path, filename, dry_run):
        from app.imports.accounts_sheet import import_accounts

        user = current_user()
        if user is None:
            abort(403)
        if not is_provincial_admin(user) and user.unit is None:
            flash("Tài khoản của bạn chưa thuộc đơn vị nào nên không tạo được tài khoản.", "danger")
            return None
        return import_accounts(db.session, path, filename, dry_run=dry_run, actor=user)

    def after_write(self, result) -> dict:
        if not result.written or not result.created:
            return {}
        from app.imports.accounts_sheet import logins_workbook

        token = _save_private(logins_workbook(result.created), ".logins.xlsx")
        web_session["import_logins"] = {"token": token, "user_id": current_user().id}
        return {"logins_url": url_for("AccountImportView.logins", token=token)}

    @expose("/logins/<token>")
    @has_access
    def logins(self, token):
        """The new logins, downloadable once by the admin who ran the import."""
        held = web_session.get("import_logins") or {}
        if held.get("token") != token or held.get("user_id") != current_user().id:
            abort(404)
        path = _private_path(token, ".logins.xlsx")
        if path is None:
            abort(404)
        data = path.read_bytes()
        path.unlink(missing_ok=True)
        web_session.pop("import_logins", None)
        from io import BytesIO

        response = send_file(
            BytesIO(data),
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            as_attachment=True,
            download_name="tai_khoan_moi.xlsx",
        )
        response.headers["Cache-Control"] = "no-store"
        return response


def register_import_views(appbuilder) -> None:
    appbuilder.add_view(
        UnitImportView, "Nhập danh sách đơn vị", label=_l("Nhập danh sách đơn vị"),
        icon="fa-upload", category="Đơn vị",
    )
    appbuilder.add_view(
        AccountImportView, "Nhập danh sách tài khoản", label=_l("Nhập danh sách tài khoản"),
        icon="fa-upload", category="Tài khoản",
    )
    appbuilder.add_view(
        IndicatorImportView, "Nhập danh mục chỉ tiêu", label=_l("Nhập danh mục chỉ tiêu"),
        icon="fa-upload", category="Chỉ tiêu",
    )
