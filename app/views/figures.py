"""The province's figures (Số liệu tổng hợp): choose a regime, a period (or year to date), a
unit subtree and official or provisional figures; see them by indicator, or broken down by unit,
and export them to .xlsx, .csv or JSON. Thin: app.consolidation.aggregate computes, app.exports
writes; the units offered are confined with app.scoping."""

from __future__ import annotations

import itertools
from decimal import Decimal
from urllib.parse import quote

from flask import Response, abort, request, send_file, stream_with_context
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.consolidation import (
    OFFICIAL_LABEL,
    PROVISIONAL_LABEL,
    SPANS,
    aggregate,
    indicator_over_periods,
    period_form_code,
    recent_periods,
    span_periods,
    unit_matrix,
)
from app.exports import (
    aggregate_table,
    csv_chunks,
    json_chunks,
    series_table,
    unit_matrix_table,
    value_column_names,
    xlsx_file,
)
from app.extensions import db
from app.formatting import format_number
from app.models import Indicator, Period, Regime, Unit
from app.roles import AGGREGATOR
from app.scoping import current_user, is_provincial_admin, read_criterion, unit_in_scope
from app.workflow import holds_role

SPAN_TITLES = {"period": "", "quarter": " (quý đến kỳ này)",
               "half_year": " (6 tháng đến kỳ này)", "ytd": " (lũy kế từ đầu năm)"}
SERIES_PERIODS = 12  # periods shown for an indicator over periods, unless asked otherwise
SHOWN_ROWS = 2000  # rows of figures on the page; a download holds them all
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
        span = request.args.get("span") or ("ytd" if request.args.get("ytd") == "1" else "period")
        choice = {"regime": regime, "period": period, "root": root,
                  "span": span if span in SPANS else "period",
                  "provisional": request.args.get("provisional") == "1",
                  "by_unit": request.args.get("by_unit") == "1",
                  "series": _int("series")}
        table, indicators, matrix_columns = None, [], []
        if regime and period and root:
            if not may_see(session, user, regime, root):
                abort(404)
            form_code = period_form_code(session, period.id)
            series = session.get(Indicator, choice["series"]) if choice["series"] else None
            wanted = request.args.get("format")
            if series is not None:
                table = _series(session, regime, series, period, root, choice)
                if wanted in FORMATS:
                    return download_table(table, wanted,
                                          f"so-lieu-{series.code}-theo-ky-den-{period.label}")
            if form_code and choice["by_unit"] and wanted in FORMATS and request.args.get(
                    "column"):
                return _matrix_download(session, regime, form_code, period, root, choice,
                                        request.args["column"], wanted)
            if form_code:
                figures = aggregate(
                    session, regime=regime, form_code=form_code,
                    period_ids=span_periods(session, period, choice["span"]),
                    root_unit=root, provisional=choice["provisional"],
                    by_unit=choice["by_unit"])
                indicators = session.scalars(select(Indicator).where(
                    Indicator.id.in_({key[1] for key in figures.cells}))
                    .order_by(Indicator.code)).all()
                if series is None:
                    title = (f"{regime.name} — {form_code} — {period.label}"
                             f"{SPAN_TITLES[choice['span']]} — {root.name}")
                    table = aggregate_table(session, figures, title)
                    if wanted in FORMATS:
                        return download_table(table, wanted, f"so-lieu-{form_code}-{period.label}")
                if choice["by_unit"]:
                    matrix_columns = _value_columns(session, {
                        key[2] for key in figures.cells if key[3] == ""})
        return self.render_template("figures/index.html", regimes=regimes, periods=periods,
                                    units=units, choice=choice, table=table,
                                    indicators=indicators, matrix_columns=matrix_columns,
                                    shown_limit=SHOWN_ROWS, **_shown_rows(table))


def _series(session, regime: Regime, indicator: Indicator, period: Period, root: Unit,
            choice: dict):
    """The indicator over the periods up to ``period`` (the last ``count``, 12 by default)."""
    count = max(1, min(request.args.get("count", SERIES_PERIODS, type=int), 120))
    periods = recent_periods(session, regime, period.cutoff_start, count)
    points = indicator_over_periods(session, regime=regime, indicator_id=indicator.id,
                                    periods=periods, root_unit=root,
                                    provisional=choice["provisional"])
    title = f"{regime.name} — theo kỳ đến {period.label} — {root.name}"
    return series_table(session, points, indicator, title,
                        PROVISIONAL_LABEL if choice["provisional"] else OFFICIAL_LABEL)


def _value_columns(session, keys: set[str]) -> list[tuple[str, str]]:
    """(key, name) of the value columns ``keys``, the catalogue's name where it has one."""
    names = value_column_names(session) if keys else {}
    return sorted((key, names.get(key, key)) for key in keys)


def _matrix_download(session, regime: Regime, form_code: str, period: Period, root: Unit,
                     choice: dict, column_key: str, wanted: str) -> Response:
    """The breakdown by unit of one value column as a matrix, one row per unit and one column
    per indicator, streamed from the database into the download."""
    matrix = unit_matrix(session, regime=regime, form_code=form_code,
                         period_ids=span_periods(session, period, choice["span"]),
                         root_unit=root, column_key=column_key,
                         provisional=choice["provisional"])
    column_name = dict(_value_columns(session, {column_key})).get(column_key, column_key)
    title = (f"{regime.name} — {form_code} — {period.label}{SPAN_TITLES[choice['span']]} — "
             f"{root.name} — chi tiết theo đơn vị — {column_name}")
    return download_table(unit_matrix_table(matrix, title), wanted,
                          f"chi-tiet-theo-don-vi-{form_code}-{period.label}-{column_key}")


def _shown_rows(table) -> dict:
    """The rows the page shows (the first ``SHOWN_ROWS``; the downloads hold them all) and
    whether there are more."""
    if table is None:
        return {"rows": [], "more_rows": False}
    rows = [[_shown(v) for v in row] for row in itertools.islice(table.rows, SHOWN_ROWS + 1)]
    return {"rows": rows[:SHOWN_ROWS], "more_rows": len(rows) > SHOWN_ROWS}


def _shown(value) -> str:
    """A figure as people read it (1.234,5); text as it is."""
    if isinstance(value, Decimal):
        return format_number(value.normalize())
    return "" if value is None else str(value)


def download_table(table, wanted: str, stem: str) -> Response:
    """A table as a .csv or JSON download streamed as its rows come, or an .xlsx workbook
    written to a temporary file and streamed from there."""
    filename = f"{stem}.{wanted}".replace("/", "-").replace(" ", "_")
    if wanted == "csv":
        response = Response(stream_with_context(csv_chunks(table)), mimetype=FORMATS["csv"])
    elif wanted == "json":
        response = Response(stream_with_context(json_chunks(table)), mimetype=FORMATS["json"])
    else:
        response = send_file(xlsx_file(table), mimetype=FORMATS["xlsx"])
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{filename.encode('ascii', 'ignore').decode()}\"; "
        f"filename*=UTF-8''{quote(filename)}")
    return response


def register_figures_views(appbuilder) -> None:
    appbuilder.add_view(FiguresView, "Số liệu tổng hợp", label=_l("Số liệu tổng hợp"),
                        icon="fa-bar-chart", category="Báo cáo")
