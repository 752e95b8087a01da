"""Tài khoản › Nhật ký truy cập: log-ins, exports, downloads and API reads (app.access_log),
searchable by person, action, time, address and target; the provincial admin sees all of them,
a unit admin those of the unit's subtree."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.models import AccessRecord
from app.models.access import ACCESS_ACTIONS
from app.views.base import ScopedInterface, ScopedModelView


class AccessRecordView(ScopedModelView):
    datamodel = ScopedInterface(AccessRecord)
    list_title = _l("Nhật ký truy cập")
    show_title = _l("Lượt truy cập")
    list_columns = ["at", "action", "username", "unit", "address", "target", "status"]
    show_columns = list_columns + ["user_agent"]
    search_columns = ["at", "action", "username", "user", "unit", "address", "target"]
    base_order = ("at", "desc")
    base_permissions = ["can_list", "can_show"]
    label_columns = {
        "at": _l("Thời điểm"),
        "action": _l("Hoạt động"),
        "username": _l("Tên đăng nhập"),
        "user": _l("Người dùng"),
        "unit": _l("Đơn vị"),
        "address": _l("Địa chỉ IP"),
        "target": _l("Trang, tệp"),
        "status": _l("Mã trả lời"),
        "user_agent": _l("Trình duyệt"),
    }
    formatters_columns = {"action": lambda value: ACCESS_ACTIONS.get(value, value)}


def register_access_views(appbuilder) -> None:
    appbuilder.add_view(AccessRecordView, "Nhật ký truy cập", label=_l("Nhật ký truy cập"),
                        icon="fa-eye", category="Tài khoản")
