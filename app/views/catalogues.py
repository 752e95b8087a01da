"""Screens of the indicator catalogue, columns and breakdowns, regimes, periods and the calendar."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.models import (
    AuditEntry,
    Breakdown,
    BreakdownOption,
    CalendarDay,
    Indicator,
    IndicatorGroup,
    IndicatorResponsibility,
    Period,
    Regime,
    RegimeRoleGrant,
    UserUnitHistory,
    ValueColumn,
)
from app.models.calendar import CALENDAR_DAY_KINDS
from app.models.indicators import AGGREGATIONS_OVER_TIME, AGGREGATIONS_OVER_UNITS, VALUE_TYPES
from app.models.regimes import DEADLINE_RULES, FREQUENCIES, REGIME_KINDS, REPORT_KINDS
from app.views.base import ScopedInterface, ScopedModelView
from app.views.fields import choice_field, reminder_offsets_field

COMMON_LABELS = {
    "code": _l("Mã"),
    "name": _l("Tên"),
    "active": _l("Đang áp dụng"),
    "valid_from": _l("Hiệu lực từ"),
    "valid_to": _l("Hiệu lực đến"),
    "description": _l("Mô tả"),
}


class IndicatorGroupView(ScopedModelView):
    datamodel = ScopedInterface(IndicatorGroup)
    list_title = _l("Nhóm chỉ tiêu (ngành, lĩnh vực)")
    list_columns = add_columns = edit_columns = show_columns = ["code", "name"]
    search_columns = ["code", "name"]
    label_columns = COMMON_LABELS


class IndicatorView(ScopedModelView):
    datamodel = ScopedInterface(Indicator)
    list_title = _l("Danh mục chỉ tiêu")
    show_title = _l("Chỉ tiêu")
    list_columns = [
        "code", "name", "unit_of_measure", "value_type", "aggregation_over_units", "group",
        "owner_unit", "active",
    ]
    add_columns = [
        "code", "name", "unit_of_measure", "calculation_method", "value_type",
        "aggregation_over_units", "aggregation_over_time", "numerator", "denominator", "group",
        "owner_unit", "active", "valid_from", "valid_to",
    ]
    edit_columns = show_columns = add_columns
    search_columns = [
        "code", "name", "unit_of_measure", "value_type", "group", "owner_unit", "active",
    ]
    label_columns = COMMON_LABELS | {
        "name": _l("Tên chỉ tiêu"),
        "unit_of_measure": _l("Đơn vị tính"),
        "calculation_method": _l("Phương pháp tính"),
        "value_type": _l("Kiểu giá trị"),
        "aggregation_over_units": _l("Tổng hợp theo đơn vị"),
        "aggregation_over_time": _l("Tổng hợp theo thời gian"),
        "numerator": _l("Tử số"),
        "denominator": _l("Mẫu số"),
        "group": _l("Nhóm, lĩnh vực"),
        "owner_unit": _l("Đơn vị chịu trách nhiệm"),
    }
    add_form_extra_fields = {
        "value_type": choice_field(_l("Kiểu giá trị"), VALUE_TYPES),
        "aggregation_over_units": choice_field(_l("Tổng hợp theo đơn vị"), AGGREGATIONS_OVER_UNITS),
        "aggregation_over_time": choice_field(_l("Tổng hợp theo thời gian"), AGGREGATIONS_OVER_TIME),
    }
    edit_form_extra_fields = add_form_extra_fields
    formatters_columns = {
        "value_type": lambda v: VALUE_TYPES.get(v, v),
        "aggregation_over_units": lambda v: AGGREGATIONS_OVER_UNITS.get(v, v),
        "aggregation_over_time": lambda v: AGGREGATIONS_OVER_TIME.get(v, v),
    }

    def _validate(self, item):
        from app.indicators import validate_indicator

        validate_indicator(item)

    def pre_add(self, item):
        super().pre_add(item)
        self._validate(item)

    def pre_update(self, item):
        super().pre_update(item)
        self._validate(item)


class ValueColumnView(ScopedModelView):
    datamodel = ScopedInterface(ValueColumn)
    list_title = _l("Danh mục cột số liệu")
    list_columns = ["key", "name", "sort_order"]
    add_columns = edit_columns = show_columns = ["key", "name", "description", "sort_order"]
    search_columns = ["key", "name"]
    base_order = ("sort_order", "asc")
    label_columns = COMMON_LABELS | {"key": _l("Khóa"), "sort_order": _l("Thứ tự")}


class BreakdownOptionView(ScopedModelView):
    datamodel = ScopedInterface(BreakdownOption)
    list_title = _l("Các giá trị phân tổ")
    list_columns = ["breakdown", "code", "name", "sort_order"]
    add_columns = edit_columns = show_columns = list_columns
    search_columns = ["breakdown", "code", "name"]
    label_columns = COMMON_LABELS | {"breakdown": _l("Phân tổ"), "sort_order": _l("Thứ tự")}


class BreakdownView(ScopedModelView):
    datamodel = ScopedInterface(Breakdown)
    list_title = _l("Danh mục phân tổ")
    list_columns = add_columns = edit_columns = show_columns = ["code", "name"]
    search_columns = ["code", "name"]
    label_columns = COMMON_LABELS
    related_views = [BreakdownOptionView]


class PeriodView(ScopedModelView):
    datamodel = ScopedInterface(Period)
    list_title = _l("Kỳ báo cáo")
    list_columns = ["regime", "label", "cutoff_start", "cutoff_end", "deadline"]
    add_columns = edit_columns = show_columns = [
        "regime", "frequency", "year", "number", "label", "cutoff_start", "cutoff_end", "deadline",
    ]
    search_columns = ["regime", "frequency", "year", "label", "deadline"]
    base_order = ("cutoff_start", "asc")
    label_columns = {
        "regime": _l("Chế độ báo cáo"),
        "frequency": _l("Tần suất"),
        "year": _l("Năm"),
        "number": _l("Số thứ tự kỳ"),
        "label": _l("Kỳ"),
        "cutoff_start": _l("Chốt số liệu từ"),
        "cutoff_end": _l("Chốt số liệu đến"),
        "deadline": _l("Hạn gửi báo cáo"),
    }
    add_form_extra_fields = {"frequency": choice_field(_l("Tần suất"), FREQUENCIES)}
    edit_form_extra_fields = add_form_extra_fields
    formatters_columns = {
        "frequency": lambda v: FREQUENCIES.get(v, v),
        "cutoff_start": lambda d: f"{d:%d/%m/%Y}" if d else "",
        "cutoff_end": lambda d: f"{d:%d/%m/%Y}" if d else "",
        "deadline": lambda d: f"{d:%d/%m/%Y}" if d else "",
    }


class RegimeView(ScopedModelView):
    datamodel = ScopedInterface(Regime)
    list_title = _l("Danh mục chế độ báo cáo")
    show_title = _l("Chế độ báo cáo")
    list_columns = ["code", "name", "kind", "frequency", "lead_unit", "report_kind", "active"]
    add_columns = [
        "code", "name", "legal_basis", "kind", "frequency", "report_kind", "cutoff_end_day",
        "deadline_rule", "deadline_working_days", "deadline_day", "deadline_month_offset",
        "owner_unit", "lead_unit", "receiving_unit", "reporting_units", "reporting_unit_types",
        "indicators", "requires_signature", "reminder_offsets", "active", "valid_from",
        "valid_to", "description",
    ]
    edit_columns = show_columns = add_columns
    search_columns = ["code", "name", "kind", "frequency", "lead_unit", "report_kind", "active"]
    label_columns = COMMON_LABELS | {
        "name": _l("Tên chế độ báo cáo"),
        "legal_basis": _l("Căn cứ pháp lý"),
        "kind": _l("Loại chế độ"),
        "frequency": _l("Tần suất"),
        "report_kind": _l("Loại báo cáo"),
        "cutoff_end_day": _l("Ngày chốt số liệu"),
        "deadline_rule": _l("Cách tính hạn gửi"),
        "deadline_working_days": _l("Số ngày làm việc sau chốt số liệu"),
        "deadline_day": _l("Ngày hạn cố định"),
        "deadline_month_offset": _l("Số tháng sau kỳ (hạn cố định)"),
        "owner_unit": _l("Đơn vị ban hành"),
        "lead_unit": _l("Cơ quan chủ trì"),
        "receiving_unit": _l("Đơn vị nhận báo cáo"),
        "reporting_units": _l("Đơn vị thực hiện báo cáo"),
        "reporting_unit_types": _l("Loại đơn vị thực hiện báo cáo"),
        "requires_signature": _l("Yêu cầu ký số trước khi gửi"),
        "indicators": _l("Chỉ tiêu"),
        "reminder_offsets": _l("Lịch nhắc hạn (ngày làm việc so với hạn gửi)"),
    }
    description_columns = {
        "reminder_offsets": _l("Ví dụ -3,-1,0,1,3: trước hạn 3 và 1 ngày làm việc, đúng hạn, sau hạn 1 và 3 ngày; để trống: không nhắc"),
        "cutoff_end_day": _l("Để trống: theo Điều 12 Nghị định 09/2019 (từ ngày 15 tháng trước đến ngày 14)"),
    }
    add_form_extra_fields = {
        "kind": choice_field(_l("Loại chế độ"), REGIME_KINDS),
        "frequency": choice_field(_l("Tần suất"), FREQUENCIES),
        "report_kind": choice_field(_l("Loại báo cáo"), REPORT_KINDS),
        "deadline_rule": choice_field(_l("Cách tính hạn gửi"), DEADLINE_RULES),
        "reminder_offsets": reminder_offsets_field(
            _l("Lịch nhắc hạn (ngày làm việc so với hạn gửi)"),
            _l("Ví dụ -3,-1,0,1,3: trước hạn 3 và 1 ngày làm việc, đúng hạn, sau hạn 1 và 3 ngày; để trống: không nhắc")),
    }
    edit_form_extra_fields = add_form_extra_fields
    formatters_columns = {
        "kind": lambda v: REGIME_KINDS.get(v, v),
        "frequency": lambda v: FREQUENCIES.get(v, v),
        "report_kind": lambda v: REPORT_KINDS.get(v, v),
        "deadline_rule": lambda v: DEADLINE_RULES.get(v, v),
    }
    related_views = [PeriodView]

    def pre_delete(self, item):
        super().pre_delete(item)
        from app.errors import DomainError

        if item.periods:
            raise DomainError(
                "Chế độ báo cáo đã có kỳ báo cáo: hãy ngừng áp dụng (bỏ chọn «Đang áp dụng») "
                "thay vì xóa, để giữ lịch sử."
            )


class CalendarDayView(ScopedModelView):
    datamodel = ScopedInterface(CalendarDay)
    list_title = _l("Ngày nghỉ, ngày làm bù")
    list_columns = ["day", "kind", "name", "legal_basis"]
    add_columns = edit_columns = show_columns = list_columns
    search_columns = ["day", "kind", "name"]
    base_order = ("day", "asc")
    label_columns = {
        "day": _l("Ngày"),
        "kind": _l("Loại"),
        "name": _l("Tên"),
        "legal_basis": _l("Căn cứ"),
    }
    add_form_extra_fields = {"kind": choice_field(_l("Loại"), CALENDAR_DAY_KINDS)}
    edit_form_extra_fields = add_form_extra_fields
    formatters_columns = {
        "kind": lambda v: CALENDAR_DAY_KINDS.get(v, v),
        "day": lambda d: f"{d:%d/%m/%Y}" if d else "",
    }


class RegimeRoleGrantView(ScopedModelView):
    datamodel = ScopedInterface(RegimeRoleGrant)
    list_title = _l("Phân quyền theo chế độ báo cáo")
    list_columns = add_columns = edit_columns = show_columns = ["user", "role", "regime"]
    search_columns = ["user", "role", "regime"]
    label_columns = {
        "user": _l("Người dùng"),
        "role": _l("Vai trò"),
        "regime": _l("Chế độ báo cáo"),
    }


class IndicatorResponsibilityView(ScopedModelView):
    """Which unit answers for which indicator of a regime (seed 004 Art. 16.1, 17.9): that unit
    fills only those rows, and the lead agency's report takes them from its accepted report."""

    datamodel = ScopedInterface(IndicatorResponsibility)
    list_title = _l("Phân công chỉ tiêu cho đơn vị chịu trách nhiệm")
    list_columns = add_columns = edit_columns = show_columns = ["regime", "indicator", "unit"]
    search_columns = ["regime", "indicator", "unit"]
    label_columns = {
        "regime": _l("Chế độ báo cáo"),
        "indicator": _l("Chỉ tiêu"),
        "unit": _l("Đơn vị chịu trách nhiệm"),
    }


class UserUnitHistoryView(ScopedModelView):
    datamodel = ScopedInterface(UserUnitHistory)
    list_title = _l("Lịch sử đơn vị công tác")
    list_columns = ["user", "unit", "started_at", "ended_at", "reason"]
    show_columns = list_columns
    search_columns = ["user", "unit", "started_at", "ended_at"]
    base_permissions = ["can_list", "can_show"]
    label_columns = {
        "user": _l("Người dùng"),
        "unit": _l("Đơn vị"),
        "started_at": _l("Từ"),
        "ended_at": _l("Đến"),
        "reason": _l("Lý do"),
    }


class AuditEntryView(ScopedModelView):
    datamodel = ScopedInterface(AuditEntry)
    list_title = _l("Nhật ký thay đổi dữ liệu")
    list_columns = ["id", "created_at", "actor", "source", "entry_hash"]
    show_columns = ["id", "created_at", "actor", "actor_id", "source", "changes", "prev_hash", "entry_hash"]
    search_columns = ["created_at", "actor", "source"]
    base_order = ("id", "desc")
    base_permissions = ["can_list", "can_show"]
    label_columns = {
        "created_at": _l("Thời điểm (UTC)"),
        "actor": _l("Người thực hiện"),
        "source": _l("Nguồn"),
        "changes": _l("Thay đổi"),
    }
