from decimal import Decimal

import pytest

from app.numbers import NotANumber, parse_number


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("1.234,5", "1234.5"), ("1234,5", "1234.5"), ("1.234.567", "1234567"), ("12.5", "12.5"),
        ("-12,3", "-12.3"), (" 1 234 ", "1234"), ("50%", "0.5"), ("(15)", "-15"), ("0", "0"),
        (1234, "1234"), (12.5, "12.5"), ("1.234", "1234"),
    ],
)
def test_vietnamese_number_input(typed, expected):
    assert parse_number(typed) == Decimal(expected)


@pytest.mark.parametrize("typed", ["abc", "1,2,3", "12a", "NaN", "Infinity", "--1"])
def test_not_numbers(typed):
    with pytest.raises(NotANumber):
        parse_number(typed)


def test_blank_is_none():
    assert parse_number("  ") is None and parse_number(None) is None
