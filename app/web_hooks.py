"""Request hooks: a first-login password change, NFC for every submitted form value, and the
maintenance banner's lines for every page (app.maintenance)."""

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
    @app.context_processor
    def maintenance_banner():
        def lines() -> list[str]:
            from app.extensions import db
            from app.maintenance import banner_lines

            return banner_lines(db.session)

        return {"maintenance_banner": lines}

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

    @app.after_request
    def clear_password_change_flag(response):
        """FAB's own-password form redirects only when it has set the new password: then the
        one-time password has been replaced and the first-login flag is cleared."""
        if (
            request.endpoint == "ResetMyPasswordView.this_form_post"
            and response.status_code in (302, 303)
            and getattr(getattr(g, "user", None), "must_change_password", False)
        ):
            from app.extensions import db
            from app.models import AppUser

            user = db.session.get(AppUser, g.user.id)
            if user is not None:
                user.must_change_password = False
                db.session.commit()
        return response
