"""Money is Decimal, quantized half-up to the fen (0.01 yuan) at documented steps. Never float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import AfterValidator, PlainSerializer

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def quantize(amount: Decimal) -> Decimal:
    """Round half-up to 0.01 yuan."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_money(value: object) -> Decimal:
    """Parse an amount exactly: strings and ints only (floats lose fen), at most two decimals."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("amount must be a string or integer, not a float")
    try:
        amount = Decimal(str(value).strip())
    except Exception as exc:  # InvalidOperation and friends
        raise ValueError(f"not an amount: {value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise ValueError(f"more than two decimals: {value!r}")
    return amount


def _check(amount: Decimal) -> Decimal:
    exponent = amount.as_tuple().exponent
    if not amount.is_finite() or (isinstance(exponent, int) and exponent < -2):
        raise ValueError("an amount has at most two decimals")
    return amount.quantize(CENT)


Money = Annotated[
    Decimal,
    AfterValidator(_check),
    PlainSerializer(lambda d: f"{d:.2f}", return_type=str, when_used="json"),
]
"""A pydantic field type: Decimal with at most two decimals, serialised to JSON as "123.45"."""


def fmt(amount: Decimal) -> str:
    """Two-decimal string form used on the wire."""
    return f"{amount:.2f}"
