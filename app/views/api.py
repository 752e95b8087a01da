"""REST APIs of the catalogues (/api/v1/...), scoped like the screens."""

from __future__ import annotations

from app.models import Indicator, Period, Regime, Unit
from app.views.base import ScopedInterface, ScopedModelRestApi


class UnitApi(ScopedModelRestApi):
    resource_name = "unit"
    datamodel = ScopedInterface(Unit)
    list_columns = [
        "id", "name", "short_name", "admin_code", "internal_code", "parent_id", "path",
        "unit_type.code", "active",
    ]
    show_columns = list_columns + ["valid_from", "valid_to", "address", "note"]
    add_columns = [
        "name", "short_name", "unit_type", "parent", "admin_code", "internal_code", "active",
        "valid_from", "valid_to", "address", "note",
    ]
    edit_columns = add_columns
    search_columns = ["name", "short_name", "admin_code", "internal_code", "path", "active"]
    order_columns = ["name", "admin_code", "path"]


class IndicatorApi(ScopedModelRestApi):
    resource_name = "indicator"
    datamodel = ScopedInterface(Indicator)
    list_columns = [
        "id", "code", "name", "unit_of_measure", "value_type", "aggregation_over_units",
        "aggregation_over_time", "numerator_id", "denominator_id", "owner_unit_id", "active",
    ]
    show_columns = list_columns + ["calculation_method", "group_id", "valid_from", "valid_to"]
    add_columns = [
        "code", "name", "unit_of_measure", "calculation_method", "value_type",
        "aggregation_over_units", "aggregation_over_time", "numerator", "denominator", "group",
        "owner_unit", "active", "valid_from", "valid_to",
    ]
    edit_columns = add_columns
    search_columns = ["code", "name", "value_type", "active"]

    def pre_add(self, item):
        super().pre_add(item)
        from app.indicators import validate_indicator

        validate_indicator(item)

    def pre_update(self, item):
        super().pre_update(item)
        from app.indicators import validate_indicator

        validate_indicator(item)


class RegimeApi(ScopedModelRestApi):
    resource_name = "regime"
    datamodel = ScopedInterface(Regime)
    list_columns = [
        "id", "code", "name", "kind", "frequency", "report_kind", "lead_unit_id",
        "receiving_unit_id", "owner_unit_id", "active",
    ]
    show_columns = list_columns + [
        "legal_basis", "cutoff_end_day", "deadline_rule", "deadline_working_days",
        "deadline_day", "deadline_month_offset", "description",
    ]
    add_columns = [
        "code", "name", "legal_basis", "kind", "frequency", "report_kind", "cutoff_end_day",
        "deadline_rule", "deadline_working_days", "deadline_day", "deadline_month_offset",
        "owner_unit", "lead_unit", "receiving_unit", "reporting_units", "active", "description",
    ]
    edit_columns = add_columns
    search_columns = ["code", "name", "kind", "frequency", "active"]


class PeriodApi(ScopedModelRestApi):
    resource_name = "period"
    datamodel = ScopedInterface(Period)
    list_columns = [
        "id", "regime_id", "frequency", "year", "number", "label", "cutoff_start",
        "cutoff_end", "deadline",
    ]
    show_columns = list_columns
    add_columns = [
        "regime", "frequency", "year", "number", "label", "cutoff_start", "cutoff_end", "deadline",
    ]
    edit_columns = add_columns
    search_columns = ["regime", "frequency", "year", "label"]
