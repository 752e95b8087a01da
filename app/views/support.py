"""Hỗ trợ: file a support request or an incident from any page (the link in the navbar carries the
page), follow its thread; the operating unit answers, announces a completion time, closes it
(app.support)."""

from __future__ import annotations

from io import BytesIO

from flask import abort, flash, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.assignment import outline_mimetype
from app.calendar import calendar_from_db
from app.errors import DomainError
from app.extensions import db
from app.formatting import format_datetime
from app.models.support import SUPPORT_KINDS, SUPPORT_STATUSES
from app.scoping import current_user
from app.support import (
    ANSWER_LIMIT_HOURS,
    answer_clock,
    file_request,
    is_operator,
    readable_request,
    reply,
    requests_for,
)
from app.views.base import check_csrf
from app.views.fields import typed_time


class SupportView(BaseView):
    route_base = "/support"
    default_view = "index"

    def _context(self, **extra):
        from flask_wtf.csrf import generate_csrf

        return {"csrf": generate_csrf(), "shown": format_datetime, "kinds": SUPPORT_KINDS,
                "statuses": SUPPORT_STATUSES, "limit": ANSWER_LIMIT_HOURS,
                "operator": is_operator(current_user())} | extra

    @expose("/")
    @has_access
    def index(self):
        rows = requests_for(db.session, current_user())
        return self.render_template("support/index.html", **self._context(rows=rows))

    @expose("/new")
    @has_access
    def new(self):
        return self.render_template("support/new.html", **self._context(
            form=request.args, page=request.args.get("page", "")))

    @expose("/new", methods=["POST"])
    @has_access
    def create(self):
        check_csrf()
        form, upload = request.form, request.files.get("attachment")
        try:
            created = file_request(
                db.session, current_user(), form.get("kind", "request"), form.get("title", ""),
                form.get("body", ""), page_url=form.get("page", ""),
                attachment=(upload.filename, upload.read()) if upload else None)
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
            return self.render_template("support/new.html", **self._context(
                form=form, page=form.get("page", "")))
        db.session.commit()
        flash(_("Đã gửi yêu cầu; đơn vị vận hành sẽ trả lời trong %(hours)s giờ làm việc.",
                hours=int(ANSWER_LIMIT_HOURS)), "info")
        return redirect(url_for("SupportView.show", request_id=created.id))

    @expose("/<int:request_id>", methods=["GET", "POST"])
    @has_access
    def show(self, request_id):
        user = current_user()
        item = readable_request(db.session, request_id, user)
        if item is None:
            abort(404)
        if request.method == "POST":
            check_csrf()
            form = request.form
            try:
                reply(db.session, item, user, form.get("body", ""),
                      expected_completion_at=typed_time(
                          form.get("done_date", ""), form.get("done_time", ""),
                          _("Thời gian hoàn thành dự kiến")),
                      resolve=form.get("resolve") == "1")
            except DomainError as error:
                db.session.rollback()
                flash(error.message, "danger")
            else:
                db.session.commit()
                return redirect(url_for("SupportView.show", request_id=item.id))
        clock = answer_clock(item, calendar_from_db(db.session))
        return self.render_template("support/show.html", **self._context(item=item, clock=clock))

    @expose("/<int:request_id>/attachment")
    @has_access
    def attachment(self, request_id):
        item = readable_request(db.session, request_id, current_user())
        if item is None or not item.attachment_filename:
            abort(404)
        return send_file(BytesIO(item.attachment), as_attachment=True,
                         mimetype=outline_mimetype(item.attachment_filename),
                         download_name=item.attachment_filename)


def register_support_views(appbuilder) -> None:
    appbuilder.add_view(SupportView, "Hỗ trợ", label=_l("Hỗ trợ"), icon="fa-life-ring",
                        category="Báo cáo")
