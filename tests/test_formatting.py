"""Values on screen: dd/mm/yyyy, Vietnam time, 1.234,5, yes/no, empty for nothing."""

import datetime as dt
from decimal import Decimal

from app.formatting import display_value, format_number
from app.roles import PROVINCIAL_ADMIN
from tests import factories


def test_numbers_use_vietnamese_grouping_and_decimal_comma():
    assert format_number(1234567) == "1.234.567"
    assert format_number(1234.5) == "1.234,5"
    assert format_number(Decimal("0.250")) == "0,25"
    assert format_number(12.345, decimals=2) == "12,35"


def test_dates_times_and_empty_values():
    assert display_value(dt.date(2026, 11, 4)) == "04/11/2026"
    assert display_value(dt.datetime(2026, 11, 23, 17, 5)) == "24/11/2026 00:05"  # UTC → +07:00
    assert display_value(None) == ""
    assert display_value(["a", 1000]) == "a, 1.000"


def test_lists_show_readable_values_and_a_labelled_empty_choice(client, session):
    province = factories.unit(session, "UBND tỉnh Thử", type_code="province_committee")
    factories.user(session, "tinh", province, [PROVINCIAL_ADMIN],
                   first_name="Khang", last_name="Hồ Ngọc")
    session.commit()
    factories.login(client, "tinh")
    listing = client.get("/unitview/list/").get_data(as_text=True)
    assert ">Có<" in listing.replace(" ", "").replace("\n", "")
    assert ">None<" not in listing.replace(" ", "").replace("\n", "")
    assert ">True<" not in listing.replace(" ", "").replace("\n", "")
    assert "Hồ Ngọc Khang" in listing  # family name first in the navbar
    add_form = client.get("/unitview/add").get_data(as_text=True)
    assert "— Không chọn —" in add_form
