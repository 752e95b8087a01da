"""The dashboard (Bảng điều khiển): the items admins configure, drawn with Chart.js served from
the app's own static files (no CDN: government networks are often closed), scoped to the viewer
(app.dashboard)."""

from __future__ import annotations

from flask_appbuilder import BaseView, expose, has_access
from flask_babel import lazy_gettext as _l

from app.dashboard import panels
from app.extensions import db
from app.models import DashboardItem
from app.models.dashboard import DASHBOARD_KINDS
from app.scoping import current_user
from app.views.base import ScopedInterface, ScopedModelView
from app.views.fields import choice_field


class DashboardView(BaseView):
    route_base = "/dashboard"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        return self.render_template("dashboard/index.html",
                                    panels=panels(db.session, current_user()))


class DashboardItemView(ScopedModelView):
    datamodel = ScopedInterface(DashboardItem)
    list_title = _l("Cấu hình bảng điều khiển")
    list_columns = ["position", "title", "kind", "regime", "indicator", "unit", "active"]
    add_columns = edit_columns = show_columns = [
        "title", "kind", "regime", "indicator", "unit", "column_key", "periods", "position",
        "active"]
    base_order = ("position", "asc")
    add_form_extra_fields = edit_form_extra_fields = {
        "kind": choice_field(_l("Kiểu biểu đồ"), DASHBOARD_KINDS),
    }
    label_columns = {
        "title": _l("Tiêu đề"), "kind": _l("Kiểu biểu đồ"), "regime": _l("Chế độ báo cáo"),
        "indicator": _l("Chỉ tiêu"), "unit": _l("Đơn vị (để trống: đơn vị nhận báo cáo)"),
        "column_key": _l("Cột số liệu (để trống: cột đầu tiên có số)"),
        "periods": _l("Số kỳ gần nhất"), "position": _l("Thứ tự"), "active": _l("Đang hiện"),
    }


def register_dashboard_views(appbuilder) -> None:
    appbuilder.add_view(DashboardView, "Bảng điều khiển", label=_l("Bảng điều khiển"),
                        icon="fa-area-chart", category="Báo cáo")
    appbuilder.add_view(DashboardItemView, "Cấu hình bảng điều khiển",
                        label=_l("Cấu hình bảng điều khiển"), icon="fa-sliders",
                        category="Báo cáo")
