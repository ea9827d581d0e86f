"""Money is Decimal, quantized half-up to the fen (0.01 yuan) at documented steps. Never float.

The one place for the money constants, the one exact parser of amounts that arrive from outside
(JSON, CSV, Kafka) and the one rounding rule. Both services and the engine import from here.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated

from pydantic import AfterValidator, PlainSerializer

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# The largest amount any column holds (NUMERIC(14, 2)); larger input is a client mistake, and
# refusing it here keeps Decimal arithmetic inside the default context's precision.
MAX_AMOUNT = Decimal("999999999999.99")


def quantize(amount: Decimal) -> Decimal:
    """Round half-up to 0.01 yuan: the one rounding rule of SPEC §5."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_amount(value: object, *, limit: Decimal = MAX_AMOUNT) -> Decimal:
    """An amount from outside, exactly: a string or an integer (never a float, which loses fen),
    finite, at most two decimals, ``|amount| <= limit``. Returned with exactly two decimals
    (``0.00``, never ``-0.00``). Raises ``ValueError`` saying what is wrong.
    """
    if type(value) is str:  # the usual case first
        try:
            amount = Decimal(value)  # surrounding whitespace is allowed
        except InvalidOperation:
            raise ValueError(f"not an amount: {_short(value)}") from None
    elif isinstance(value, bool | float):
        raise ValueError("an amount is a string or an integer, never a float")
    elif isinstance(value, Decimal | int | str):
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"not an amount: {_short(value)}") from None
    else:
        raise ValueError(f"not an amount: {_short(value)}")
    if not amount.is_finite():
        raise ValueError(f"not an amount: {_short(value)}")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise ValueError(f"more than two decimals: {_short(value)}")
    if abs(amount) > limit:
        raise ValueError(f"amount is above {limit}")
    if not amount:
        return ZERO
    return amount.quantize(CENT)


def parse_money(value: object) -> Decimal:
    """``parse_amount`` under its older name (enrollment's callers)."""
    return parse_amount(value)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check(amount: Decimal) -> Decimal:
    exponent = amount.as_tuple().exponent
    if not amount.is_finite() or (isinstance(exponent, int) and exponent < -2):
        raise ValueError("an amount has at most two decimals")
    if abs(amount) > MAX_AMOUNT:
        raise ValueError(f"amount is above {MAX_AMOUNT}")
    return amount.quantize(CENT)


Money = Annotated[
    Decimal,
    AfterValidator(_check),
    PlainSerializer(lambda d: f"{d:.2f}", return_type=str, when_used="json"),
]
"""A pydantic field type: Decimal with at most two decimals, serialised to JSON as "123.45"."""


def fen_text(amount: Decimal) -> str:
    """An amount as "123.45" on the wire and the receipt.

    ``str`` when the amount already has two decimals, as every amount the engine computes does
    (three times faster than a format spec); the format spec otherwise.
    """
    text = str(amount)
    if text[-3:-2] == ".":
        return text
    return f"{amount:.2f}"


def fmt(amount: Decimal) -> str:
    """Two-decimal string form used on the wire (the same as ``fen_text``)."""
    return fen_text(amount)
