"""Registers every screen and API on the AppBuilder."""

from flask_babel import lazy_gettext as _l


def register_views(appbuilder) -> None:
    from app.views.catalogues import (
        AuditEntryView,
        BreakdownOptionView,
        BreakdownView,
        CalendarDayView,
        IndicatorGroupView,
        IndicatorResponsibilityView,
        IndicatorView,
        PeriodView,
        RegimeRoleGrantView,
        RegimeView,
        UserUnitHistoryView,
        ValueColumnView,
    )
    from app.views.units import UnitSuccessionView, UnitTreeView, UnitTypeView, UnitView

    units = _l("Đơn vị")
    appbuilder.add_view(UnitTreeView, "Cây đơn vị", label=_l("Cây đơn vị"), icon="fa-sitemap", category="Đơn vị", category_label=units, category_icon="fa-building")
    appbuilder.add_view(UnitView, "Danh mục đơn vị", label=_l("Danh mục đơn vị"), icon="fa-building", category="Đơn vị")
    appbuilder.add_view(UnitTypeView, "Loại đơn vị", label=_l("Loại đơn vị"), icon="fa-tags", category="Đơn vị")
    appbuilder.add_view(UnitSuccessionView, "Sáp nhập, chia tách", label=_l("Sáp nhập, chia tách"), icon="fa-code-fork", category="Đơn vị")

    indicators = _l("Chỉ tiêu")
    appbuilder.add_view(IndicatorView, "Danh mục chỉ tiêu", label=_l("Danh mục chỉ tiêu"), icon="fa-list-ol", category="Chỉ tiêu", category_label=indicators, category_icon="fa-list-ol")
    appbuilder.add_view(IndicatorGroupView, "Nhóm chỉ tiêu", label=_l("Nhóm chỉ tiêu"), icon="fa-folder", category="Chỉ tiêu")
    appbuilder.add_view(ValueColumnView, "Cột số liệu", label=_l("Cột số liệu"), icon="fa-columns", category="Chỉ tiêu")
    appbuilder.add_view(BreakdownView, "Phân tổ", label=_l("Phân tổ"), icon="fa-th", category="Chỉ tiêu")
    appbuilder.add_view_no_menu(BreakdownOptionView)

    regimes = _l("Chế độ báo cáo")
    appbuilder.add_view(RegimeView, "Chế độ báo cáo", label=_l("Chế độ báo cáo"), icon="fa-book", category="Chế độ báo cáo", category_label=regimes, category_icon="fa-book")
    appbuilder.add_view(PeriodView, "Kỳ báo cáo", label=_l("Kỳ báo cáo"), icon="fa-calendar", category="Chế độ báo cáo")
    appbuilder.add_view(CalendarDayView, "Ngày nghỉ, làm bù", label=_l("Ngày nghỉ, làm bù"), icon="fa-calendar-times-o", category="Chế độ báo cáo")

    from app.views.forms_admin import FormUploadView, FormVersionView

    appbuilder.add_view(FormVersionView, "Biểu mẫu", label=_l("Biểu mẫu"), icon="fa-file-excel-o", category="Chế độ báo cáo")
    appbuilder.add_view(FormUploadView, "Tải lên biểu mẫu", label=_l("Tải lên biểu mẫu"), icon="fa-upload", category="Chế độ báo cáo")
    appbuilder.add_view(IndicatorResponsibilityView, "Phân công chỉ tiêu", label=_l("Phân công chỉ tiêu"), icon="fa-user-circle", category="Chế độ báo cáo")

    accounts = _l("Tài khoản")
    appbuilder.add_view(RegimeRoleGrantView, "Phân quyền theo chế độ", label=_l("Phân quyền theo chế độ"), icon="fa-key", category="Tài khoản", category_label=accounts, category_icon="fa-users")
    appbuilder.add_view(UserUnitHistoryView, "Lịch sử đơn vị công tác", label=_l("Lịch sử đơn vị công tác"), icon="fa-history", category="Tài khoản")
    appbuilder.add_view(AuditEntryView, "Nhật ký thay đổi", label=_l("Nhật ký thay đổi"), icon="fa-shield", category="Tài khoản")

    from app.views.api import IndicatorApi, PeriodApi, RegimeApi, UnitApi

    for api in (UnitApi, IndicatorApi, RegimeApi, PeriodApi):
        appbuilder.add_api(api)

    from app.views.imports import register_import_views

    register_import_views(appbuilder)

    from app.views.entry import ReportEntryView, ReportView

    reports = _l("Báo cáo")
    appbuilder.add_view(ReportView, "Danh sách báo cáo", label=_l("Danh sách báo cáo"), icon="fa-table", category="Báo cáo", category_label=reports, category_icon="fa-file-text-o")
    appbuilder.add_view_no_menu(ReportEntryView)

    # The inbox "Việc cần làm" and its menu badge (app/views/inbox.py)
    from app.views.inbox import register_inbox_views

    register_inbox_views(appbuilder)

    # Status board and compliance (app/views/status.py)
    from app.views.status import register_status_views

    register_status_views(appbuilder)

    # Assignment, ad-hoc requests and the reception window (app/views/assignment.py)
    from app.views.assignment import register_assignment_views

    register_assignment_views(appbuilder)

    # Digital signatures: the signing page, verification, certificates (app/views/signing.py)
    from app.views.signing import register_signing_views

    register_signing_views(appbuilder)

    # The province's figures and their exports (app/views/figures.py)
    from app.views.figures import register_figures_views

    register_figures_views(appbuilder)

    # Tra cứu: reports and indicator values (app/views/search.py)
    from app.views.search import register_search_views

    register_search_views(appbuilder)

    # The figures read API for the provincial IOC, with API keys (app/views/figures_api.py)
    from app.views.figures_api import register_figures_api

    register_figures_api(appbuilder)

    # Reports, values, the reporting cycle and the dataValueSets import (app/views/reports_api.py)
    from app.views.reports_api import register_reports_api

    register_reports_api(appbuilder)

    # The dashboard and its configuration (app/views/dashboard.py)
    from app.views.dashboard import register_dashboard_views

    register_dashboard_views(appbuilder)

    # Quản trị › Lịch tác vụ: the scheduler's jobs and runs (app/views/scheduling.py)
    from app.views.scheduling import register_scheduling_views

    register_scheduling_views(appbuilder)

    # Thông báo: each person's notices and the bell (app/views/notifications.py)
    from app.views.notifications import register_notification_views

    register_notification_views(appbuilder)

    # Quản trị › Bảo trì hệ thống: maintenance notices and the banner (app/views/maintenance.py)
    from app.views.maintenance import register_maintenance_views

    register_maintenance_views(appbuilder)

    # Quản trị › Gián đoạn hệ thống: outages and the sendings entered after them
    # (app/views/backfill.py)
    from app.views.backfill import register_backfill_views

    register_backfill_views(appbuilder)

    # Hỗ trợ: support requests and incidents from any page (app/views/support.py)
    from app.views.support import register_support_views

    register_support_views(appbuilder)

    # Exchange with the upper-level system: its API (federation) and the admin screens
    # (app/views/exchange.py)
    from app.views.exchange import register_exchange_views

    register_exchange_views(appbuilder)

    # Tài khoản › Nhật ký truy cập: log-ins, exports, downloads, API reads (app/views/access.py)
    from app.views.access import register_access_views

    register_access_views(appbuilder)
