"""The login page: the password form (with captcha and lockout) and single sign-on beside it.

Flask-AppBuilder allows one AUTH_TYPE; the project keeps AUTH_DB and this view adds the OpenID
Connect button and its callback (app/sso.py). The class keeps FAB's name ``AuthDBView`` so the
endpoints ``AuthDBView.login`` and ``AuthDBView.logout`` stay what FAB and the app expect.
"""

from __future__ import annotations

import logging

from flask import current_app, flash, g, redirect, request, session, url_for
from flask_appbuilder.security.decorators import no_cache
from flask_appbuilder.security.forms import LoginForm_db
from flask_appbuilder.security.views import AuthDBView as FabAuthDBView
from flask_appbuilder.utils.base import get_safe_redirect
from flask_appbuilder.views import expose
from flask_babel import gettext as _
from flask_login import login_user

from app import login_guard
from app.access_log import record_login
from app.errors import DomainError
from app.extensions import db as database
from app.formatting import format_datetime
from app.models.login_security import (
    CAPTCHA_REFUSED,
    LOCKED,
    SSO_REFUSED,
    SUCCEEDED,
    VNCONNECT,
)
from app.sso import match_account, sso_client

log = logging.getLogger(__name__)

CAPTCHA_SESSION_KEY = "login_captcha"
CAPTCHA_SHOWN_KEY = "login_captcha_required"
SSO_NEXT_KEY = "sso_next"


def _lock_message(until) -> str:
    return _(
        "Tài khoản tạm thời bị khóa do nhập sai mật khẩu nhiều lần. Vui lòng thử lại sau "
        "%(until)s (giờ Việt Nam) hoặc liên hệ quản trị hệ thống.",
        until=format_datetime(until),
    )


class AuthDBView(FabAuthDBView):
    login_template = "security/login.html"

    # ---------------------------------------------------------------- password form

    def _policy(self) -> login_guard.Policy:
        return login_guard.Policy.from_config(current_app.config)

    def _render_form(self, form, *, captcha: bool):
        captcha_image = None
        if captcha:
            token, _answer, captcha_image = login_guard.issue_captcha(
                database.session, current_app.config["SECRET_KEY"], self._policy()
            )
            database.session.commit()
            session[CAPTCHA_SESSION_KEY] = token
        return self.render_template(
            self.login_template,
            title=self.title,
            form=form,
            appbuilder=self.appbuilder,
            captcha_image=captcha_image,
            sso_enabled=sso_client() is not None,
            next_url=request.args.get("next", ""),
        )

    @expose("/login/", methods=["GET", "POST"])
    @no_cache
    def login(self):
        if g.user is not None and g.user.is_authenticated:
            return redirect(self._get_safe_next_url())
        form = LoginForm_db()
        if not form.validate_on_submit():
            policy = self._policy()
            show_captcha = bool(session.get(CAPTCHA_SHOWN_KEY)) or (
                login_guard.failures_from_address(database.session, request.remote_addr, policy)
                >= policy.captcha_after > 0
            )
            return self._render_form(form, captcha=show_captcha)

        next_url = get_safe_redirect(request.args.get("next", ""))
        back = self.appbuilder.get_url_for_login_with(next_url)
        db, policy, address = database.session, self._policy(), request.remote_addr
        username = login_guard.account_key(db, form.username.data)
        attempt = login_guard.open_attempt(db, username, address)

        until = login_guard.locked_until(db, username, policy, excluding=attempt.id)
        if until is not None:
            login_guard.settle(db, attempt, LOCKED)
            record_login(database.engine, form.username.data, address, False, how="password: locked")
            flash(_lock_message(until), "danger")
            return redirect(back)

        if login_guard.captcha_required(db, username, address, policy, excluding=attempt.id):
            passed = login_guard.check_captcha(
                db, current_app.config["SECRET_KEY"], session.pop(CAPTCHA_SESSION_KEY, None),
                request.form.get("captcha"),
            )
            if not passed:
                login_guard.settle(db, attempt, CAPTCHA_REFUSED)
                record_login(database.engine, form.username.data, address, False,
                             how="password: captcha")
                session[CAPTCHA_SHOWN_KEY] = True
                flash(_("Mã xác nhận chưa đúng hoặc đã hết hạn. Vui lòng nhập mã trong hình "
                        "mới."), "warning")
                return redirect(back)

        user = self.appbuilder.sm.auth_user_db(form.username.data, form.password.data)
        if not user:  # the attempt stays recorded as failed
            record_login(database.engine, form.username.data, address, False)
            until = login_guard.locked_until(db, username, policy)
            if until is not None:
                flash(_lock_message(until), "danger")
            else:
                flash(str(self.invalid_login_message), "warning")
            if login_guard.captcha_required(db, username, address, policy):
                session[CAPTCHA_SHOWN_KEY] = True
            return redirect(back)

        login_guard.settle(db, attempt, SUCCEEDED)
        record_login(database.engine, user.username, address, True, user=user)
        session.pop(CAPTCHA_SHOWN_KEY, None)
        session.pop(CAPTCHA_SESSION_KEY, None)
        login_user(user, remember=False)
        return redirect(next_url)

    # ---------------------------------------------------------------- single sign-on

    @expose("/login/vnconnect")
    @no_cache
    def login_vnconnect(self):
        client = sso_client()
        if client is None:
            flash(_("Chưa cấu hình đăng nhập qua Cổng dịch vụ công quốc gia."), "warning")
            return redirect(self.appbuilder.get_url_for_login)
        session[SSO_NEXT_KEY] = get_safe_redirect(request.args.get("next", ""))
        redirect_uri = current_app.config.get("OIDC_REDIRECT_URI") or url_for(
            f"{self.endpoint}.vnconnect_callback", _external=True
        )
        try:
            return client.authorize_redirect(redirect_uri)
        except Exception:
            log.exception("VNConnect: the provider's discovery document could not be read")
            flash(_("Không kết nối được Cổng dịch vụ công quốc gia. Vui lòng thử lại sau hoặc "
                    "đăng nhập bằng mật khẩu."), "danger")
            return redirect(self.appbuilder.get_url_for_login)

    @expose("/login/vnconnect/callback")
    @no_cache
    def vnconnect_callback(self):
        client = sso_client()
        login_page = self.appbuilder.get_url_for_login
        if client is None:
            return redirect(login_page)
        db, address = database.session, request.remote_addr
        try:
            token = client.authorize_access_token()
            if not token.get("userinfo"):  # Authlib puts the checked ID token's claims here
                raise ValueError("the provider returned no ID token")
            claims = dict(token["userinfo"])
            claim_name = current_app.config.get("OIDC_CCCD_CLAIM") or "cccd"
            if claim_name not in claims and token.get("access_token"):
                # some providers put personal data in userinfo only: same person, same subject
                extra = client.userinfo(token=token)
                if extra.get("sub") != claims.get("sub"):
                    raise ValueError("userinfo is about another subject")
                claims.update({key: extra[key] for key in extra if key not in claims})
        except Exception as error:  # state, code, token or ID token refused: never log in
            log.warning("VNConnect login refused: %r", error)
            login_guard.record(db, None, address, SSO_REFUSED, method=VNCONNECT)
            db.commit()
            record_login(database.engine, None, address, False, how=VNCONNECT)
            flash(_("Đăng nhập qua Cổng dịch vụ công quốc gia không thành công (phiên đăng nhập "
                    "không hợp lệ hoặc đã hết hạn). Vui lòng thử lại."), "danger")
            return redirect(login_page)
        try:
            user = match_account(db, claims, claim_name)
        except DomainError as error:
            login_guard.record(db, None, address, SSO_REFUSED, method=VNCONNECT)
            db.commit()
            record_login(database.engine, None, address, False, how=VNCONNECT)
            flash(error.message, "danger")
            return redirect(login_page)
        self.appbuilder.sm.update_user_auth_stat(user, True)
        login_guard.record(db, user.username.lower(), address, SUCCEEDED, method=VNCONNECT)
        db.commit()
        record_login(database.engine, user.username, address, True, user=user, how=VNCONNECT)
        login_user(user, remember=False)
        return redirect(get_safe_redirect(session.pop(SSO_NEXT_KEY, "") or ""))
