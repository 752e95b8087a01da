"""Tra cứu: search reports by regime, unit, period, state and words of their narrative, and
the values of an indicator. Thin: app.search queries within the viewer's scope."""

from __future__ import annotations

from flask import request
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.formatting import display_value
from app.models import Indicator, Period, Regime, Unit
from app.scoping import current_user, read_criterion, unit_in_scope
from app.search import indicator_values, search_reports
from app.text import nfc
from app.workflow import STATE_WORDS


class SearchView(BaseView):
    route_base = "/search"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        session, user = db.session, current_user()
        regimes = session.scalars(_scoped(select(Regime).order_by(Regime.code), Regime,
                                          user)).all()
        regime_id = request.args.get("regime_id", type=int)
        periods = session.scalars(select(Period).where(Period.regime_id == regime_id)
                                  .order_by(Period.cutoff_end.desc())).all() if regime_id else []
        units = [u for u in session.scalars(select(Unit).where(Unit.active.is_(True))
                                            .order_by(Unit.path)) if unit_in_scope(u, user)]
        indicators = session.scalars(select(Indicator).where(Indicator.active.is_(True))
                                     .order_by(Indicator.code)).all()
        asked = {name: request.args.get(name) or "" for name in
                 ("words", "regime_id", "period_id", "unit_id", "state", "indicator_id")}
        found, values = None, None
        if any(asked[name] for name in ("words", "regime_id", "period_id", "unit_id", "state")):
            found = search_reports(
                session, user, regime_id=regime_id,
                unit_id=request.args.get("unit_id", type=int),
                period_id=request.args.get("period_id", type=int),
                state=asked["state"] or None, words=nfc(asked["words"]))
        indicator_id = request.args.get("indicator_id", type=int)
        if indicator_id:
            values = [(report, column, breakdown, display_value(value))
                      for report, column, breakdown, value in indicator_values(
                          session, user, indicator_id,
                          period_id=request.args.get("period_id", type=int))]
        return self.render_template("search/index.html", regimes=regimes, periods=periods,
                                    units=units, indicators=indicators, asked=asked,
                                    found=found, values=values, states=STATE_WORDS)


def _scoped(query, model, user):
    criterion = read_criterion(model, user)
    return query if criterion is None else query.where(criterion)


def register_search_views(appbuilder) -> None:
    appbuilder.add_view(SearchView, "Tra cứu", label=_l("Tra cứu"), icon="fa-search",
                        category="Báo cáo")
