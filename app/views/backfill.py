"""Quản trị › Gián đoạn hệ thống: the provincial admin records outages; a unit enters a report it
sent by other means during one (app.backfill), from the report page; the scan downloads."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.assignment import outline_mimetype
from app.backfill import backfill_send, record_outage
from app.errors import DomainError
from app.extensions import db
from app.formatting import format_datetime
from app.models import BackfilledSending, Outage
from app.scoping import current_user
from app.views.base import check_csrf, readable_report_or_404
from app.views.fields import typed_time


class BackfillView(BaseView):
    route_base = "/backfill"
    default_view = "outages"

    @expose("/")
    @has_access
    def outages(self):
        from flask_wtf.csrf import generate_csrf

        rows = db.session.scalars(sa.select(Outage).order_by(Outage.starts_at.desc())
                                  .limit(200)).all()
        counts = dict(db.session.execute(
            sa.select(BackfilledSending.outage_id, sa.func.count(BackfilledSending.id))
            .group_by(BackfilledSending.outage_id)).all())
        return self.render_template("backfill/outages.html", outages=rows, counts=counts,
                                    csrf=generate_csrf(), shown=format_datetime,
                                    form=request.args)

    @expose("/", methods=["POST"])
    @has_access
    def record(self):
        check_csrf()
        form = request.form
        try:
            record_outage(db.session,
                          typed_time(form.get("start_date", ""), form.get("start_time", ""),
                                     _("Bắt đầu")),
                          typed_time(form.get("end_date", ""), form.get("end_time", ""),
                                     _("Kết thúc")),
                          form.get("reason", ""), current_user())
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
            return redirect(url_for("BackfillView.outages", **form.to_dict()))
        db.session.commit()
        flash(_("Đã ghi nhận thời gian hệ thống gián đoạn."), "info")
        return redirect(url_for("BackfillView.outages"))

    @expose("/report/<int:report_id>", methods=["GET", "POST"])
    @has_access
    def report(self, report_id):
        from flask_wtf.csrf import generate_csrf

        report = readable_report_or_404(report_id)
        form = request.form if request.method == "POST" else request.args
        if request.method == "POST":
            check_csrf()
            upload = request.files.get("evidence")
            try:
                backfill_send(
                    db.session, report, current_user(),
                    typed_time(form.get("sent_date", ""), form.get("sent_time", ""),
                               _("Thời điểm gửi")),
                    form.get("document_number", ""),
                    (upload.filename, upload.read()) if upload else ("", b""))
            except DomainError as error:
                db.session.rollback()
                flash(error.message, "danger")
            else:
                db.session.commit()
                flash(_("Đã nhập bù lần gửi; báo cáo được đánh dấu «nhập bù»."), "info")
                return redirect(url_for("ReportEntryView.show", report_id=report.id))
        outages = db.session.scalars(sa.select(Outage).order_by(Outage.starts_at.desc())
                                     .limit(20)).all()
        return self.render_template("backfill/report.html", report=report, outages=outages,
                                    csrf=generate_csrf(), shown=format_datetime, form=form)

    @expose("/evidence/<int:record_id>")
    @has_access
    def evidence(self, record_id):
        record = db.session.get(BackfilledSending, record_id)
        if record is None:
            abort(404)
        readable_report_or_404(record.report_id)
        from io import BytesIO

        return send_file(BytesIO(record.evidence), mimetype=outline_mimetype(
            record.evidence_filename), as_attachment=True,
            download_name=record.evidence_filename)


def register_backfill_views(appbuilder) -> None:
    appbuilder.add_view(BackfillView, "Gián đoạn hệ thống", label=_l("Gián đoạn hệ thống"),
                        icon="fa-plug", category="Quản trị", category_label=_l("Quản trị"),
                        category_icon="fa-cogs")
