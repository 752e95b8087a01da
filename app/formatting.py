"""How values read on screen: dates dd/mm/yyyy, times in Asia/Ho_Chi_Minh, numbers 1.234,5."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def format_number(value, decimals: int | None = None) -> str:
    """1234567.5 → "1.234.567,5" (Vietnamese grouping and decimal comma); halves round up."""
    if isinstance(value, bool):
        return display_value(value)
    if isinstance(value, int) and decimals is None:
        text = f"{value:,}"
    else:
        number = Decimal(str(value))
        if decimals is None:
            text = f"{number:,f}"
            if "." in text:
                text = text.rstrip("0").rstrip(".")
        else:
            rounded = number.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
            text = f"{rounded:,.{decimals}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def format_datetime(value: dt.datetime) -> str:
    """A stored UTC time (naive or aware) shown in Vietnam's time: 23/11/2026 14:05."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(LOCAL_TZ).strftime("%d/%m/%Y %H:%M")


def display_value(value) -> str:
    """A value as a person reads it on a list or detail screen."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(_l("Có") if value else _l("Không"))
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, (int, float, Decimal)):
        return format_number(value)
    if isinstance(value, (list, tuple, set)):
        return ", ".join(display_value(item) for item in value)
    return str(value)
