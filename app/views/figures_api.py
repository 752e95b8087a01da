"""The read API of the province's figures for the provincial IOC (seed 004): indicator values by
unit and period as JSON, read-only, scoped to what the key's account may see.

Authentication is Flask-AppBuilder's own API keys (``FAB_API_KEY_ENABLED``: ``Authorization:
Bearer sst_…``, stored hashed, revocable, with an expiry); a key acts as the account it was
issued to, so scoping is the account's (app.views.figures.may_see). Keys are issued, shown once
and revoked on the "Khóa API" screen (ApiKeyAdminView).

    GET /api/v1/figures/?regime=KTXH-THANG&period=<id>&unit=<unit code>[&provisional=1]
        [&ytd=1][&by_unit=1]
"""

from __future__ import annotations

import datetime as dt

from flask import current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.api import BaseApi, safe
from flask_appbuilder.api import expose as expose_api
from flask_appbuilder.security.decorators import protect
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from app.consolidation import aggregate, year_to_date
from app.exports import _names, _number_text
from app.extensions import db
from app.models import AppUser, Period, Regime, Report, Unit
from app.scoping import current_user, unit_in_scope
from app.views.base import check_csrf
from app.views.figures import may_see


class FiguresApi(BaseApi):
    resource_name = "figures"
    openapi_spec_tag = "Figures"
    allow_browser_login = True

    @expose_api("/", methods=["GET"])
    @protect()
    @safe
    def get(self):
        """Aggregated figures of a unit subtree for a regime and a period.
        ---
        get:
          parameters:
          - {in: query, name: regime, required: true, schema: {type: string}}
          - {in: query, name: period, required: true, schema: {type: integer}}
          - {in: query, name: unit, required: true, schema: {type: string}}
          - {in: query, name: provisional, schema: {type: integer}}
          - {in: query, name: ytd, schema: {type: integer}}
          - {in: query, name: by_unit, schema: {type: integer}}
          responses:
            200: {description: the figures, labelled official or provisional}
            400: {description: a parameter is missing or wrong}
            404: {description: not found or outside the account's scope}
        """
        session, user = db.session, current_user()
        args = request.args
        regime = session.scalar(select(Regime).where(Regime.code == args.get("regime", "")))
        period = session.get(Period, args.get("period", type=int) or 0)
        code = args.get("unit", "")
        unit = session.scalar(select(Unit).where(
            or_(Unit.admin_code == code, Unit.internal_code == code))) if code else None
        if regime is None or period is None or period.regime_id != regime.id or unit is None:
            return self.response_400(message="Cần regime (mã chế độ), period (id kỳ của chế "
                                             "độ) và unit (mã đơn vị) đúng.")
        if not may_see(session, user, regime, unit):
            return self.response_404()
        form_code = session.scalar(select(Report.form_code).where(
            Report.period_id == period.id).order_by(Report.form_code).limit(1))
        ytd, by_unit = args.get("ytd") == "1", args.get("by_unit") == "1"
        figures = aggregate(
            session, regime=regime, form_code=form_code or "",
            period_ids=year_to_date(session, period) if ytd else [period.id], root_unit=unit,
            provisional=args.get("provisional") == "1", by_unit=by_unit)
        indicators, _columns, units = _names(session, figures)
        rows = []
        for (unit_id, indicator_id, column, breakdown), cell in sorted(
                figures.cells.items(), key=lambda item: (item[0][0] or 0, item[0][1:])):
            indicator = indicators.get(indicator_id)
            row = {"indicator": indicator.code if indicator else None,
                   "name": indicator.name if indicator else None, "column": column,
                   "breakdown": breakdown, "value": _number_text(cell.value) or None}
            if by_unit:
                owner = units.get(unit_id)
                row["unit"] = (owner.admin_code or owner.internal_code) if owner else None
            rows.append(row)
        return self.response(200, regime=regime.code, period=period.label, unit=code,
                             form=form_code, official=not figures.provisional,
                             label=figures.label, year_to_date=ytd, figures=rows)


class ApiKeyAdminView(BaseView):
    """Issue, list and revoke the API keys of the accounts in the admin's scope (a key is shown
    once, stored hashed)."""

    route_base = "/api-keys"
    default_view = "index"

    def _accounts(self):
        user = current_user()
        return [a for a in db.session.scalars(select(AppUser).where(AppUser.active.is_(True))
                                              .order_by(AppUser.username))
                if a.unit is not None and unit_in_scope(a.unit, user)]

    def _page(self, issued=None):
        from flask_wtf.csrf import generate_csrf

        sm = self.appbuilder.sm
        accounts = self._accounts()
        keys = [(account, key) for account in accounts
                for key in sm.find_api_keys_for_user(account.id)]
        return self.render_template("figures/api_keys.html", accounts=accounts, keys=keys,
                                    issued=issued, csrf=generate_csrf())

    @expose("/")
    @has_access
    def index(self):
        return self._page()

    @expose("/issue", methods=["POST"])
    @has_access
    def issue(self):
        check_csrf()
        account = next((a for a in self._accounts()
                        if a.id == request.form.get("account_id", type=int)), None)
        name = (request.form.get("name") or "").strip()
        if account is None or not name:
            flash(_("Chọn tài khoản trong phạm vi của bạn và đặt tên cho khóa."), "danger")
            return self._page(), 422
        days = request.form.get("days", type=int) or 365
        scopes = "read,write" if request.form.get("scope") == "read,write" else "read"
        issued = self.appbuilder.sm.create_api_key(
            account, name, scopes=scopes,
            expires_on=dt.datetime.now() + dt.timedelta(days=min(days, 3 * 365)))
        return self._page(issued=issued)

    @expose("/revoke", methods=["POST"])
    @has_access
    def revoke(self):
        check_csrf()
        uuid = request.form.get("uuid", "")
        key = self.appbuilder.sm.get_api_key_by_uuid(uuid)
        if key is None or key.user_id not in {a.id for a in self._accounts()}:
            flash(_("Không tìm thấy khóa API này trong phạm vi của bạn."), "danger")
        else:
            self.appbuilder.sm.revoke_api_key(uuid)
            flash(_("Đã thu hồi khóa API «%(name)s».", name=key.name), "success")
        return redirect(url_for("ApiKeyAdminView.index"))


def register_figures_api(appbuilder) -> None:
    if current_app.config.get("FAB_API_KEY_ENABLED"):
        appbuilder.add_api(FiguresApi)
        appbuilder.add_view(ApiKeyAdminView, "Khóa API", label=_l("Khóa API"), icon="fa-key",
                            category="Tài khoản")
