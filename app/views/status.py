"""The status board of a period (Theo dõi báo cáo) and the units' compliance (Mức độ tuân thủ).

Thin screens over app.status_board: the query parameters choose the regime, period, filters and
sorting; the same parameters give the .xlsx export of exactly the rows shown.
"""

from __future__ import annotations

import datetime as dt
import io
from urllib.parse import quote

from flask import Response, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.formatting import format_datetime
from app.models import Unit
from app.models.forms import utcnow
from app.scoping import current_user, read_criterion
from app.status_board import (
    LATE,
    MISSING,
    NOT_DUE,
    ON_TIME,
    RETURNED,
    SORTS,
    STATUS_ORDER,
    board_periods,
    board_regimes,
    compliance,
    default_period,
    status_board,
)
from app.text import fold
from app.views.entry import STATE_LABELS, state_label
from app.workflow import STATES, vietnam_time

STATUS_LABELS = {
    ON_TIME: _l("Đúng hạn"),
    LATE: _l("Muộn"),
    MISSING: _l("Chưa gửi (quá hạn)"),
    NOT_DUE: _l("Chưa đến hạn"),
    RETURNED: _l("Bị trả lại"),
}
# Bootstrap 3 label colours
STATUS_CLASSES = {
    ON_TIME: "label-success",
    LATE: "label-warning",
    MISSING: "label-danger",
    NOT_DUE: "label-default",
    RETURNED: "label-info",
}
ACTION_LABELS = {
    "submit": _l("Trình duyệt"),
    "approve": _l("Duyệt"),
    "reject": _l("Từ chối duyệt"),
    "send": _l("Gửi"),
    "accept": _l("Tiếp nhận"),
    "return": _l("Trả lại"),
    "reopen": _l("Mở lại để đính chính"),
    "request_correction": _l("Đề nghị đính chính"),
}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATETIME_FORMAT = "dd/mm/yyyy hh:mm"


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "").strip()
    return int(value) if value.isdigit() else None


def _xlsx_response(workbook, filename: str) -> Response:
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = Response(buffer.getvalue(), mimetype=XLSX)
    ascii_name = fold(filename).replace(" ", "-").replace("/", "-")
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    )
    return response


def _cell(sheet, value, number_format: str | None = None):
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    if number_format:
        cell.number_format = number_format
    return cell


def _local(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else vietnam_time(moment)


def _subtree(unit_id: int | None, user) -> Unit | None:
    """The unit chosen to narrow the board, when the user may reach it."""
    if unit_id is None:
        return None
    query = select(Unit).where(Unit.id == unit_id)
    criterion = read_criterion(Unit, user)
    if criterion is not None:
        query = query.where(criterion)
    return db.session.scalars(query).first()


class StatusBoardView(BaseView):
    """Who sent, who is late, who is missing: every report of a period."""

    route_base = "/status"
    default_view = "board"

    def _choice(self):
        user = current_user()
        regimes = board_regimes(db.session, user)
        regime_id = _int_arg("regime")
        if regime_id not in {r.id for r in regimes}:
            regime_id = None
        all_periods = board_periods(db.session, user)
        period_id = _int_arg("period")
        period = next((p for p in all_periods if p.id == period_id), None)
        if period is not None and regime_id is None:
            regime_id = period.regime_id
        periods = [p for p in all_periods if regime_id is None or p.regime_id == regime_id]
        if period is None or period.regime_id != regime_id:
            period = default_period(periods, vietnam_time(utcnow()).date())
        if period is not None and regime_id is None:
            regime_id = period.regime_id
            periods = [p for p in all_periods if p.regime_id == regime_id]
        filters = {
            "form_code": request.args.get("form", "").strip() or None,
            "state": request.args.get("state") if request.args.get("state") in STATES else None,
            "status": request.args.get("status") if request.args.get("status") in STATUS_ORDER
            else None,
            "text": request.args.get("q", "").strip() or None,
            "sort": request.args.get("sort") if request.args.get("sort") in SORTS else "unit",
            "descending": request.args.get("desc") == "1",
        }
        subtree = _subtree(_int_arg("unit"), user)
        board = None
        if period is not None:
            board = status_board(db.session, period, user, subtree_path=subtree.path if subtree
                                 else None, **filters)
        return {
            "regimes": regimes, "regime_id": regime_id, "periods": periods, "period": period,
            "filters": filters, "subtree": subtree, "board": board,
        }

    @expose("/")
    @has_access
    def board(self):
        choice = self._choice()
        params = {k: v for k, v in request.args.items() if v != ""}
        if choice["period"] is not None:
            params["period"] = choice["period"].id

        def link(**changes):
            merged = {**params, **changes}
            return url_for("StatusBoardView.board", **{k: v for k, v in merged.items()
                                                        if v not in (None, "")})

        def sort_link(key):
            current = choice["filters"]["sort"] == key and not choice["filters"]["descending"]
            return link(sort=key, desc="1" if current else None)

        return self.render_template(
            "status/board.html",
            **choice,
            link=link,
            sort_link=sort_link,
            export_url=url_for("StatusBoardView.export", **params),
            states=STATES,
            state_labels=STATE_LABELS,
            state_label=state_label,
            statuses=STATUS_ORDER,
            status_labels=STATUS_LABELS,
            status_classes=STATUS_CLASSES,
            action_labels=ACTION_LABELS,
            shown=lambda moment: format_datetime(moment) if moment else "",
        )

    @expose("/export.csv")
    @has_access
    def export_csv(self):
        return self._export_table("csv")

    @expose("/export.json")
    @has_access
    def export_json(self):
        return self._export_table("json")

    def _export_table(self, wanted: str):
        """The board as .csv (UTF-8 with BOM, streamed) or JSON; times in ISO 8601 +07:00."""
        from app.exports import Table
        from app.views.figures import download_table

        choice = self._choice()
        board, period = choice["board"], choice["period"]

        def iso(moment):
            local = _local(moment)
            return local.strftime("%Y-%m-%dT%H:%M:%S+07:00") if local else None

        rows = ([number, row.unit_name, row.unit_code, row.form_code, state_label(row.state),
                 str(STATUS_LABELS[row.status]), iso(row.deadline_at), iso(row.first_sent_at),
                 iso(row.sent_at), str(ACTION_LABELS.get(row.last_action, row.last_action or "")),
                 row.last_actor, iso(row.last_at)]
                for number, row in enumerate(board.rows if board else [], start=1))
        label = period.label if period else ""
        table = Table(
            title=f"{_('Theo dõi báo cáo')} — {label}",
            label=_("Tình trạng lúc %(time)s", time=format_datetime(utcnow())),
            header=[_("STT"), _("Đơn vị"), _("Mã đơn vị"), _("Mã biểu"), _("Trạng thái"),
                    _("Tình trạng hạn"), _("Hạn gửi"), _("Gửi lần đầu"), _("Gửi lần cuối"),
                    _("Thao tác cuối"), _("Người thực hiện"), _("Thời điểm")],
            rows=rows)
        return download_table(table, wanted, f"theo-doi-bao-cao {label}")

    @expose("/export.xlsx")
    @has_access
    def export(self):
        from openpyxl import Workbook

        choice = self._choice()
        board, period = choice["board"], choice["period"]
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(_("Theo dõi báo cáo")[:31])
        sheet.column_dimensions["B"].width = 36
        for letter in "GHILN":
            sheet.column_dimensions[letter].width = 17
        sheet.append([
            _("STT"), _("Đơn vị"), _("Mã đơn vị"), _("Mã biểu"), _("Trạng thái"),
            _("Tình trạng hạn"), _("Hạn gửi"), _("Gửi lần đầu"), _("Gửi lần cuối"),
            _("Thao tác cuối"), _("Người thực hiện"), _("Thời điểm"),
        ])
        for number, row in enumerate(board.rows if board else [], start=1):
            sheet.append([
                number, row.unit_name, row.unit_code, row.form_code, state_label(row.state),
                str(STATUS_LABELS[row.status]),
                _cell(sheet, _local(row.deadline_at), DATETIME_FORMAT),
                _cell(sheet, _local(row.first_sent_at), DATETIME_FORMAT),
                _cell(sheet, _local(row.sent_at), DATETIME_FORMAT),
                str(ACTION_LABELS.get(row.last_action, row.last_action or "")),
                row.last_actor,
                _cell(sheet, _local(row.last_at), DATETIME_FORMAT),
            ])
        label = period.label if period else ""
        return _xlsx_response(workbook, f"theo-doi-bao-cao {label}.xlsx")


class ComplianceView(BaseView):
    """Per unit and year: reports assigned, sent on time, late, missing (seed 004 Art. 17.4)."""

    route_base = "/compliance"
    default_view = "table"

    def _choice(self):
        user = current_user()
        regimes = board_regimes(db.session, user)
        regime_id = _int_arg("regime")
        regime = next((r for r in regimes if r.id == regime_id), None)
        today = vietnam_time(utcnow()).date()
        year = _int_arg("year") or today.year
        subtree = _subtree(_int_arg("unit"), user)
        rows = compliance(db.session, year, user, regime_id=regime.id if regime else None,
                          subtree_path=subtree.path if subtree else None)
        return {"regimes": regimes, "regime": regime, "year": year, "subtree": subtree,
                "rows": rows, "years": list(range(today.year - 4, today.year + 2))}

    @expose("/")
    @has_access
    def table(self):
        choice = self._choice()
        params = {k: v for k, v in request.args.items() if v != ""}
        totals = [sum(getattr(r, f) for r in choice["rows"])
                  for f in ("assigned", "on_time", "late", "missing", "not_due")]
        return self.render_template(
            "status/compliance.html", **choice, totals=totals,
            export_url=url_for("ComplianceView.export", **params),
            status_labels=STATUS_LABELS, status_classes=STATUS_CLASSES,
        )

    @expose("/export.xlsx")
    @has_access
    def export(self):
        from openpyxl import Workbook

        choice = self._choice()
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(_("Mức độ tuân thủ")[:31])
        sheet.column_dimensions["B"].width = 36
        sheet.append([
            _("STT"), _("Đơn vị"), _("Mã đơn vị"), _("Số báo cáo được giao"), _("Đúng hạn"),
            _("Muộn"), _("Chưa gửi (quá hạn)"), _("Chưa đến hạn"), _("Tỷ lệ đúng hạn"),
        ])
        for number, row in enumerate(choice["rows"], start=1):
            rate = row.on_time_rate
            sheet.append([
                number, row.unit_name, row.unit_code, row.assigned, row.on_time, row.late,
                row.missing, row.not_due,
                _cell(sheet, rate, "0.0%") if rate is not None else None,
            ])
        return _xlsx_response(workbook, f"muc-do-tuan-thu {choice['year']}.xlsx")


def register_status_views(appbuilder) -> None:
    appbuilder.add_view(StatusBoardView, "Theo dõi báo cáo", label=_l("Theo dõi báo cáo"),
                        icon="fa-tasks", category="Báo cáo")
    appbuilder.add_view(ComplianceView, "Mức độ tuân thủ", label=_l("Mức độ tuân thủ"),
                        icon="fa-check-square-o", category="Báo cáo")
