"""The province's figures (Số liệu tổng hợp): choose a regime, a period (or year to date), a
unit subtree and official or provisional figures; see them by indicator, or broken down by unit,
and export them to .xlsx, .csv or JSON. Thin: app.consolidation.aggregate computes, app.exports
writes; the units offered are confined with app.scoping."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import quote

from flask import Response, abort, request, stream_with_context
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.consolidation import aggregate, year_to_date
from app.exports import aggregate_table, csv_chunks, json_bytes, xlsx_bytes
from app.extensions import db
from app.formatting import format_number
from app.models import Period, Regime, Report, Unit
from app.roles import AGGREGATOR
from app.scoping import current_user, is_provincial_admin, read_criterion, unit_in_scope
from app.workflow import holds_role

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def may_see(session, user, regime: Regime, root: Unit) -> bool:
    """The provincial admin sees every subtree; the aggregators of the regime's lead or
    receiving unit see the regime's whole province; everyone else their own subtree."""
    if is_provincial_admin(user) or unit_in_scope(root, user):
        return True
    return (user.unit_id in (regime.lead_unit_id, regime.receiving_unit_id)
            and holds_role(session, user, AGGREGATOR, regime.id))


def _int(name: str) -> int | None:
    return request.args.get(name, type=int)


class FiguresView(BaseView):
    route_base = "/figures"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        session, user = db.session, current_user()
        criterion = read_criterion(Regime, user)
        query = select(Regime).where(Regime.active.is_(True)).order_by(Regime.code)
        regimes = session.scalars(query if criterion is None else query.where(criterion)).all()
        regime = next((r for r in regimes if r.id == _int("regime_id")), None)
        periods = session.scalars(select(Period).where(Period.regime_id == regime.id)
                                  .order_by(Period.cutoff_end.desc())).all() if regime else []
        period = next((p for p in periods if p.id == _int("period_id")), None)
        units = [u for u in session.scalars(select(Unit).where(Unit.active.is_(True))
                                            .order_by(Unit.path))
                 if regime is None or may_see(session, user, regime, u)]
        asked = _int("unit_id")
        root = next((u for u in units if u.id == asked), None) if asked else (
            units[0] if units else None)
        if asked and root is None:
            abort(404)  # a unit outside the viewer's reach
        choice = {"regime": regime, "period": period, "root": root,
                  "ytd": request.args.get("ytd") == "1",
                  "provisional": request.args.get("provisional") == "1",
                  "by_unit": request.args.get("by_unit") == "1"}
        table = None
        if regime and period and root:
            if not may_see(session, user, regime, root):
                abort(404)
            form_code = session.scalar(select(Report.form_code).where(
                Report.period_id == period.id).order_by(Report.form_code).limit(1))
            if form_code:
                figures = aggregate(
                    session, regime=regime, form_code=form_code,
                    period_ids=year_to_date(session, period) if choice["ytd"] else [period.id],
                    root_unit=root, provisional=choice["provisional"],
                    by_unit=choice["by_unit"])
                title = (f"{regime.name} — {form_code} — {period.label}"
                         f"{' (lũy kế từ đầu năm)' if choice['ytd'] else ''} — {root.name}")
                table = aggregate_table(session, figures, title)
                wanted = request.args.get("format")
                if wanted in FORMATS:
                    return download_table(table, wanted, f"so-lieu-{form_code}-{period.label}")
        return self.render_template("figures/index.html", regimes=regimes, periods=periods,
                                    units=units, choice=choice, table=table,
                                    rows=[[_shown(v) for v in row] for row in table.rows]
                                    if table else [])


def _shown(value) -> str:
    """A figure as people read it (1.234,5); text as it is."""
    if isinstance(value, Decimal):
        return format_number(value.normalize())
    return "" if value is None else str(value)


def download_table(table, wanted: str, stem: str) -> Response:
    """A table as a .csv (streamed), JSON or .xlsx download."""
    filename = f"{stem}.{wanted}".replace("/", "-").replace(" ", "_")
    if wanted == "csv":
        response = Response(stream_with_context(csv_chunks(table)), mimetype=FORMATS["csv"])
    elif wanted == "json":
        response = Response(json_bytes(table), mimetype=FORMATS["json"])
    else:
        response = Response(xlsx_bytes(table), mimetype=FORMATS["xlsx"])
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{filename.encode('ascii', 'ignore').decode()}\"; "
        f"filename*=UTF-8''{quote(filename)}")
    return response


def register_figures_views(appbuilder) -> None:
    appbuilder.add_view(FiguresView, "Số liệu tổng hợp", label=_l("Số liệu tổng hợp"),
                        icon="fa-bar-chart", category="Báo cáo")
