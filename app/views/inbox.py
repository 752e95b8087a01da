"""The inbox page ("Việc cần làm") and the counts that the menu shows as a badge.

The work itself is found by app.inbox; these views only draw it. The badge comes from
``/inbox/counts``, fetched once per page by a small script added to the base template
(templates/inbox/base.html), so rendering the menu costs no query at all.
"""

from __future__ import annotations

from flask import abort, jsonify, request
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.inbox import BOXES, inbox_counts, inbox_reports, inbox_total
from app.scoping import current_user

BOX_LABELS = {
    "to_enter": _l("Cần nhập, trình duyệt"),
    "to_approve": _l("Chờ tôi duyệt"),
    "to_sign": _l("Chờ tôi ký"),
    "to_send": _l("Chờ ký số, gửi"),
    "to_review": _l("Chờ tiếp nhận"),
    "returned": _l("Bị trả lại"),
}
BOX_HELP = {
    "to_enter": _l("Báo cáo của đơn vị đang nhập hoặc bị trả lại, bạn được giao nhập và trình."),
    "to_approve": _l("Báo cáo đã trình, chờ lãnh đạo duyệt."),
    "to_sign": _l("Báo cáo bạn đã duyệt, chế độ báo cáo yêu cầu chữ ký số của bạn trước khi "
                  "văn thư ký số cơ quan và gửi."),
    "to_send": _l("Báo cáo đã duyệt, chờ ký số và gửi."),
    "to_review": _l("Báo cáo các đơn vị đã gửi tới đơn vị bạn, chờ tiếp nhận hoặc trả lại."),
    "returned": _l("Báo cáo của đơn vị bị cơ quan tiếp nhận trả lại để sửa."),
}
BASE_TEMPLATE = "inbox/base.html"


class InboxView(BaseView):
    route_base = "/inbox"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        user = current_user()
        counts = inbox_counts(db.session, user)
        box = request.args.get("box")
        if box is None:
            box = next((b for b in BOXES if counts.get(b)), BOXES[0])
        if box not in BOXES:
            abort(404)
        return self.render_template(
            "inbox/index.html",
            boxes=BOXES,
            box=box,
            labels=BOX_LABELS,
            help=BOX_HELP,
            counts=counts,
            items=inbox_reports(db.session, user, box),
        )

    @expose("/counts")
    @has_access
    def counts(self):
        counts = inbox_counts(db.session, current_user())
        return jsonify(counts=counts, total=inbox_total(counts))


def register_inbox_views(appbuilder) -> None:
    appbuilder.add_view(InboxView, "Việc cần làm", label=_l("Việc cần làm"), icon="fa-inbox",
                        category="Báo cáo")
    # The menu badge comes from the base template (config FAB_BASE_TEMPLATE = BASE_TEMPLATE).
