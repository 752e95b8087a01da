"""Reading numbers as Vietnamese people type them: "1.234,5", "1234,5", "1.234.567", "-12,3%"."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_GROUPED_WITH_DOTS = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+$")


class NotANumber(ValueError):
    pass


def parse_number(text) -> Decimal | None:
    """A Decimal from a typed or pasted number; None for blank; NotANumber for anything else.

    A comma is the decimal mark and dots group thousands ("1.234,5"). Without a comma, dots that
    group digits in threes are thousands ("1.234.567"); any other single dot is a decimal point
    ("12.5", as pasted from an English-format sheet). Spaces and non-breaking spaces are ignored;
    a trailing % divides by 100.
    """
    if text is None:
        return None
    if isinstance(text, bool):
        raise NotANumber(str(text))
    if isinstance(text, (int, Decimal)):
        return Decimal(text)
    if isinstance(text, float):
        return Decimal(repr(text))
    cleaned = str(text).strip().replace("\u00a0", "").replace(" ", "")
    if not cleaned:
        return None
    percent = cleaned.endswith("%")
    if percent:
        cleaned = cleaned[:-1]
    if cleaned.startswith("(") and cleaned.endswith(")"):
        cleaned = "-" + cleaned[1:-1]
    if "," in cleaned:
        if cleaned.count(",") > 1:
            raise NotANumber(text)
        cleaned = cleaned.replace(".", "").replace(",", ".")
    elif _GROUPED_WITH_DOTS.match(cleaned):
        cleaned = cleaned.replace(".", "")
    try:
        number = Decimal(cleaned)
    except InvalidOperation as error:
        raise NotANumber(text) from error
    if not number.is_finite():
        raise NotANumber(text)
    return number / 100 if percent else number
