"""Exchange with the upper-level system (QCVN 125:2021/BTTTT; app/exchange/).

The upper-level role, with Flask-AppBuilder's own API keys (as /api/v1/figures/):

    GET  /api/v1/exchange/catalogue[?regime=CODE&regime=…]   regimes, forms, outlines,
                                                             indicators, periods (messages)
    POST /api/v1/exchange/report-data                        a lower level's accepted figures
    POST /api/v1/exchange/report-status                      a lower level's report status
    GET  /api/v1/exchange/schema/<message_type>              the JSON Schema of a message

The province's role: Quản trị › Trao đổi với cấp trên (sync templates, push a consolidated
report, send now) and the log of every message with its receipt.
"""

from __future__ import annotations

import json

from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, ModelView, expose, has_access
from flask_appbuilder.api import BaseApi, safe
from flask_appbuilder.api import expose as expose_api
from flask_appbuilder.security.decorators import protect
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.errors import DomainError, PermissionDenied
from app.exchange import downstream, upstream
from app.exchange import messages as fmt
from app.extensions import db
from app.formatting import format_datetime
from app.models import ExchangeFigure, ExchangeMessage, Report
from app.scoping import current_user
from app.views.base import ScopedInterface, check_csrf


class ExchangeApi(BaseApi):
    resource_name = "exchange"
    openapi_spec_tag = "Exchange"
    allow_browser_login = True

    @expose_api("/catalogue", methods=["GET"])
    @protect()
    @safe
    def catalogue(self):
        """The catalogue for the level below (đồng bộ biểu mẫu).
        ---
        get:
          parameters:
          - {in: query, name: regime, schema: {type: string}}
          responses:
            200: {description: a catalogue message holding regime, data_form, outline, indicator_catalogue and period_catalogue messages}
        """
        codes = request.args.getlist("regime") or None
        return self.response(200, **upstream.serve_catalogue(db.session, codes))

    @expose_api("/report-data", methods=["POST"])
    @protect()
    @safe
    def report_data(self):
        """A lower level's accepted consolidated figures; answered with a delivery receipt.
        ---
        post:
          responses:
            201: {description: stored; the receipt}
            200: {description: already received (same message id or same content); the first receipt}
            400: {description: not a valid message; the JSON path of the error}
            403: {description: the key's account may not send for this unit}
            422: {description: unknown regime, unit or indicator}
        """
        return self._receive(fmt.REPORT_DATA)

    @expose_api("/report-status", methods=["POST"])
    @protect()
    @safe
    def report_status(self):
        """A lower level's report status (sent, accepted, returned, reopened).
        ---
        post:
          responses:
            201: {description: stored; the receipt}
            200: {description: already received; the first receipt}
            400: {description: not a valid message}
        """
        return self._receive(fmt.REPORT_STATUS)

    @expose_api("/schema/<message_type>", methods=["GET"])
    @protect()
    @safe
    def schema(self, message_type):
        """The JSON Schema of one message type.
        ---
        get:
          parameters:
          - {in: path, name: message_type, required: true, schema: {type: string}}
          responses:
            200: {description: the schema}
            404: {description: no such message type}
        """
        if message_type not in fmt.MESSAGE_TYPES:
            return self.response_404()
        return self.response(200, **fmt.schema(message_type))

    def _receive(self, message_type: str):
        session = db.session
        message = request.get_json(silent=True)
        if message is None:
            return self.response_400(message="Nội dung gửi lên không phải JSON hợp lệ.")
        try:
            receipt, new = upstream.receive(session, message, current_user(), message_type)
        except fmt.InvalidMessage as error:
            session.rollback()
            return self.response(400, message=error.message, path=error.path)
        except PermissionDenied as error:
            session.rollback()
            return self.response(403, message=error.message, path=error.field)
        except DomainError as error:
            session.rollback()
            return self.response(422, message=error.message, path=error.field)
        try:
            session.commit()
        except IntegrityError:
            # the same message or content stored meanwhile by a concurrent request: its receipt
            session.rollback()
            receipt, new = upstream.receive(session, message, current_user(), message_type)
            session.commit()
        return self.response(201 if new else 200, **receipt)


class ExchangeMessageView(ModelView):
    datamodel = ScopedInterface(ExchangeMessage)
    list_title = _l("Nhật ký trao đổi với cấp trên, cấp dưới")
    show_title = _l("Thông điệp trao đổi")
    base_permissions = ["can_list", "can_show"]
    base_order = ("id", "desc")
    list_columns = ["created_at", "direction_word", "message_type", "regime_code",
                    "period_label", "unit_code", "state_word", "attempts", "next_attempt_at",
                    "last_error"]
    show_columns = ["message_id", "created_at", "direction_word", "message_type", "peer",
                    "unit_code", "regime_code", "period_label", "state_word", "attempts",
                    "next_attempt_at", "last_error", "delivered_at", "receipt", "summary",
                    "content_hash", "payload"]
    search_columns = ["message_type", "state", "direction", "regime_code", "unit_code",
                      "message_id"]
    label_columns = {
        "created_at": _l("Tạo lúc (UTC)"), "direction_word": _l("Chiều"),
        "message_type": _l("Loại thông điệp"), "regime_code": _l("Chế độ"),
        "period_label": _l("Kỳ"), "unit_code": _l("Đơn vị gửi"), "state_word": _l("Trạng thái"),
        "state": _l("Trạng thái"), "direction": _l("Chiều"),
        "attempts": _l("Số lần gửi"), "next_attempt_at": _l("Gửi lại lúc (UTC)"),
        "last_error": _l("Lỗi gần nhất"), "message_id": _l("Mã thông điệp"),
        "peer": _l("Hệ thống bên kia"), "delivered_at": _l("Đã gửi/nhận lúc (UTC)"),
        "receipt": _l("Biên nhận"), "summary": _l("Kết quả"),
        "content_hash": _l("Mã băm nội dung"), "payload": _l("Nội dung"),
    }


class ExchangeFigureView(ModelView):
    datamodel = ScopedInterface(ExchangeFigure)
    list_title = _l("Số liệu cấp dưới gửi lên")
    base_permissions = ["can_list", "can_show"]
    base_order = ("id", "desc")
    list_columns = ["unit_code", "regime_code", "period_label", "indicator_code", "column_key",
                    "breakdown_key", "value", "received_at"]
    search_columns = ["unit_code", "regime_code", "period_year", "indicator_code"]
    label_columns = {
        "unit_code": _l("Đơn vị gửi"), "regime_code": _l("Chế độ"), "period_label": _l("Kỳ"),
        "period_year": _l("Năm"), "indicator_code": _l("Chỉ tiêu"),
        "column_key": _l("Cột"), "breakdown_key": _l("Phân tổ"), "value": _l("Giá trị"),
        "received_at": _l("Nhận lúc (UTC)"),
    }


class ExchangeAdminView(BaseView):
    """Quản trị › Trao đổi với cấp trên: the upstream settings, đồng bộ biểu mẫu, the
    province's accepted consolidated reports with a button to send each, and the outbox."""

    route_base = "/exchange"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        from flask_wtf.csrf import generate_csrf

        session = db.session
        settings = downstream.UpstreamSettings.from_config(self.appbuilder.app.config)
        accepted = [r for r in session.scalars(
            select(Report).where(Report.state == "accepted",
                                 Report.kind.in_(("consolidated", "composed")))
            .order_by(Report.accepted_at.desc()).limit(50))
            if downstream.is_top_consolidation(session, r)]
        recent = session.scalars(select(ExchangeMessage).order_by(ExchangeMessage.id.desc())
                                 .limit(30)).all()
        return self.render_template(
            "exchange/index.html", settings=settings, accepted=accepted, recent=recent,
            csrf=generate_csrf(), shown=lambda v: format_datetime(v) if v else "",
            words=fmt.TYPE_WORDS, receipt=lambda text: json.loads(text) if text else None)

    @expose("/sync", methods=["POST"])
    @has_access
    def sync(self):
        check_csrf()
        session = db.session
        try:
            summary = downstream.sync_templates(session, actor=current_user())
        except DomainError as error:
            session.rollback()
            flash(_("Chưa đồng bộ được biểu mẫu: %(why)s", why=error.message), "danger")
        else:
            session.commit()
            flash(summary.message, "success")
        return redirect(url_for("ExchangeAdminView.index"))

    @expose("/push/<int:report_id>", methods=["POST"])
    @has_access
    def push(self, report_id):
        check_csrf()
        session = db.session
        report = session.get(Report, report_id)
        if report is None or not downstream.is_top_consolidation(session, report):
            flash(_("Chỉ gửi lên cấp trên báo cáo tổng hợp cấp tỉnh."), "danger")
            return redirect(url_for("ExchangeAdminView.index"))
        try:
            row = downstream.queue_report_data(session, report)
        except DomainError as error:
            session.rollback()
            flash(error.message, "danger")
            return redirect(url_for("ExchangeAdminView.index"))
        session.commit()
        downstream.send_pending(session)
        session.refresh(row)
        flash(_("Thông điệp %(id)s: %(state)s.", id=row.message_id, state=row.state_word),
              "success" if row.state == "delivered" else "warning")
        return redirect(url_for("ExchangeAdminView.index"))

    @expose("/send", methods=["POST"])
    @has_access
    def send(self):
        check_csrf()
        counts = downstream.send_pending(db.session)
        flash(_("Đã gửi %(delivered)s thông điệp; %(pending)s chờ gửi lại; %(refused)s bị "
                "từ chối.", delivered=counts["delivered"], pending=counts["pending"],
                refused=counts["refused"]), "info")
        return redirect(url_for("ExchangeAdminView.index"))


def register_exchange_views(appbuilder) -> None:
    appbuilder.add_api(ExchangeApi)
    appbuilder.add_view(ExchangeAdminView, "Trao đổi với cấp trên",
                        label=_l("Trao đổi với cấp trên"), icon="fa-exchange",
                        category="Quản trị", category_label=_l("Quản trị"),
                        category_icon="fa-cogs")
    appbuilder.add_view(ExchangeMessageView, "Nhật ký trao đổi", label=_l("Nhật ký trao đổi"),
                        icon="fa-list-alt", category="Quản trị")
    appbuilder.add_view(ExchangeFigureView, "Số liệu cấp dưới gửi lên",
                        label=_l("Số liệu cấp dưới gửi lên"), icon="fa-inbox",
                        category="Quản trị")
