"""Rules of the indicator catalogue."""

from __future__ import annotations

from app.errors import DomainError
from app.models.indicators import AGGREGATIONS_OVER_TIME, AGGREGATIONS_OVER_UNITS, VALUE_TYPES


def validate_indicator(indicator) -> None:
    """Raise DomainError when an indicator's settings contradict each other."""
    if indicator.value_type not in VALUE_TYPES:
        raise DomainError(f"Kiểu giá trị «{indicator.value_type}» không hợp lệ.", field="value_type")
    if indicator.aggregation_over_units not in AGGREGATIONS_OVER_UNITS:
        raise DomainError("Cách tổng hợp theo đơn vị không hợp lệ.", field="aggregation_over_units")
    if indicator.aggregation_over_time not in AGGREGATIONS_OVER_TIME:
        raise DomainError("Cách tổng hợp theo thời gian không hợp lệ.", field="aggregation_over_time")
    has_numerator = indicator.numerator is not None or indicator.numerator_id is not None
    has_denominator = indicator.denominator is not None or indicator.denominator_id is not None
    if has_numerator != has_denominator:
        raise DomainError(
            "Chỉ tiêu tỷ lệ phải có cả tử số và mẫu số.",
            field="denominator" if has_numerator else "numerator",
        )
    if has_numerator:
        if indicator.aggregation_over_units in ("sum", "average", "min", "max"):
            raise DomainError(
                "Chỉ tiêu tỷ lệ được tính lại từ tử số và mẫu số, không được cộng hay lấy trung bình: "
                "chọn «Không tổng hợp» cho cách tổng hợp theo đơn vị.",
                field="aggregation_over_units",
            )
        if indicator.aggregation_over_time in ("sum", "average"):
            raise DomainError(
                "Chỉ tiêu tỷ lệ không được cộng dồn theo thời gian: chọn «Giá trị kỳ cuối» hoặc "
                "«Không tổng hợp».",
                field="aggregation_over_time",
            )
        same = (indicator.numerator is not None and indicator.numerator is indicator) or (
            indicator.id is not None
            and indicator.id in (indicator.numerator_id, indicator.denominator_id)
        )
        if same:
            raise DomainError("Chỉ tiêu không thể là tử số hoặc mẫu số của chính nó.")
    if indicator.valid_from and indicator.valid_to and indicator.valid_to < indicator.valid_from:
        raise DomainError("Ngày hết hiệu lực phải sau ngày bắt đầu hiệu lực.", field="valid_to")
