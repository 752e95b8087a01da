"""Quản trị › Bảo trì hệ thống: the provincial admin announces a maintenance stop (at least 10
working hours ahead, or marked as an emergency) and cancels one; app.maintenance does the rest."""

from __future__ import annotations

import sqlalchemy as sa
from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.errors import DomainError
from app.extensions import db
from app.formatting import format_datetime
from app.maintenance import MIN_NOTICE_HOURS, announce_maintenance, cancel_maintenance
from app.models import MaintenanceNotice
from app.scoping import current_user
from app.views.base import check_csrf
from app.views.fields import typed_time


class MaintenanceView(BaseView):
    route_base = "/maintenance"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        from flask_wtf.csrf import generate_csrf

        notices = db.session.scalars(
            sa.select(MaintenanceNotice).order_by(MaintenanceNotice.starts_at.desc()).limit(100)
        ).all()
        return self.render_template("maintenance/index.html", notices=notices,
                                    csrf=generate_csrf(), shown=format_datetime,
                                    min_hours=MIN_NOTICE_HOURS, form=request.args)

    @expose("/", methods=["POST"])
    @has_access
    def announce(self):
        check_csrf()
        form = request.form
        try:
            notice = announce_maintenance(
                db.session,
                typed_time(form.get("start_date", ""), form.get("start_time", ""), _("Bắt đầu")),
                form.get("message", ""), current_user(),
                ends_at=typed_time(form.get("end_date", ""), form.get("end_time", ""), _("Kết thúc")),
                emergency=form.get("emergency") == "1")
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
            return redirect(url_for("MaintenanceView.index", **form.to_dict()))
        db.session.commit()
        flash(_("Đã thông báo bảo trì lúc %(at)s; quản trị các đơn vị đã được báo.",
                at=format_datetime(notice.starts_at)), "info")
        return redirect(url_for("MaintenanceView.index"))

    @expose("/<int:notice_id>/cancel", methods=["POST"])
    @has_access
    def cancel(self, notice_id):
        check_csrf()
        notice = db.session.get(MaintenanceNotice, notice_id)
        if notice is not None and notice.cancelled_at is None:
            cancel_maintenance(db.session, notice)
            db.session.commit()
            flash(_("Đã hủy thông báo bảo trì."), "info")
        return redirect(url_for("MaintenanceView.index"))


def register_maintenance_views(appbuilder) -> None:
    appbuilder.add_view(MaintenanceView, "Bảo trì hệ thống", label=_l("Bảo trì hệ thống"),
                        icon="fa-wrench", category="Quản trị", category_label=_l("Quản trị"),
                        category_icon="fa-cogs")
