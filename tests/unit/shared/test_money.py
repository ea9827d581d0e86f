"""Money: Decimal, at most two decimals, half-up to the fen, never float."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from shared.money import Money, fmt, parse_money, quantize

pytestmark = pytest.mark.unit


class Priced(BaseModel):
    amount: Money


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0.005", "0.01"), ("0.004", "0.00"), ("2.675", "2.68"), ("-1.005", "-1.01"), ("3", "3.00")],
)
def test_quantize_rounds_half_up(value, expected):
    assert quantize(Decimal(value)) == Decimal(expected)


@pytest.mark.parametrize(
    ("value", "expected"), [("360", "360"), (360, "360"), (" 12.50 ", "12.50")]
)
def test_parse_money_accepts_strings_and_integers(value, expected):
    assert parse_money(value) == Decimal(expected)


@pytest.mark.parametrize("value", [1.5, True, "abc", "1.234", "NaN", "Infinity", ""])
def test_parse_money_refuses_floats_junk_and_fractions_of_a_fen(value):
    with pytest.raises(ValueError):
        parse_money(value)


def test_money_field_serialises_as_a_two_decimal_string():
    priced = Priced(amount=Decimal("360"))
    assert priced.amount == Decimal("360.00")
    assert priced.model_dump_json() == '{"amount":"360.00"}'
    assert Priced.model_validate_json('{"amount":"12.5"}').amount == Decimal("12.50")


def test_money_field_refuses_three_decimals():
    with pytest.raises(ValidationError):
        Priced(amount=Decimal("1.001"))


def test_fmt():
    assert fmt(Decimal("5")) == "5.00"
    assert fmt(Decimal("1234.5")) == "1234.50"
