"""Thông báo: each person's notices (newest first), mark one or all read, mute e-mail; and the
bell with the unread count in the navbar (app/templates/notifications/_bell.html)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import flash, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.formatting import format_datetime
from app.models import Notification
from app.models.notifications import EMAIL_STATUSES
from app.notifications import mark_read, unread_count
from app.scoping import current_user
from app.views.base import check_csrf


class NotificationsView(BaseView):
    route_base = "/notifications"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        user = current_user()
        notes = db.session.scalars(
            sa.select(Notification).where(Notification.user_id == user.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(200)
        ).all()
        from flask_wtf.csrf import generate_csrf

        return self.render_template("notifications/index.html", notes=notes, user=user,
                                    csrf=generate_csrf(),
                                    statuses=EMAIL_STATUSES, shown=format_datetime)

    @expose("/count")
    @has_access
    def count(self):
        return jsonify({"unread": unread_count(db.session, current_user().id)})

    @expose("/<int:notification_id>/read", methods=["POST"])
    @has_access
    def read(self, notification_id):
        check_csrf()
        user = current_user()
        mark_read(db.session, user.id, notification_id)
        db.session.commit()
        note = db.session.get(Notification, notification_id)
        if note is not None and note.user_id == user.id and note.link and \
                request.form.get("open"):
            return redirect(note.link)
        return redirect(url_for("NotificationsView.index"))

    @expose("/read-all", methods=["POST"])
    @has_access
    def read_all(self):
        check_csrf()
        mark_read(db.session, current_user().id)
        db.session.commit()
        flash(_("Đã đánh dấu tất cả thông báo là đã đọc."), "info")
        return redirect(url_for("NotificationsView.index"))

    @expose("/email", methods=["POST"])
    @has_access
    def email(self):
        check_csrf()
        user = current_user()
        user.mute_email = request.form.get("mute") == "1"
        db.session.commit()
        flash(_("Đã tắt nhận thư; thông báo vẫn hiện trong hệ thống.") if user.mute_email
              else _("Đã bật nhận thư."), "info")
        return redirect(url_for("NotificationsView.index"))


def register_notification_views(appbuilder) -> None:
    appbuilder.add_view(NotificationsView, "Thông báo", label=_l("Thông báo"), icon="fa-bell",
                        category="Báo cáo")
