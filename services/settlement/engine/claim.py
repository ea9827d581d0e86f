"""What a hospital sends: the claim body of SPEC §6 and the hospital's profile.

The models parse at the boundary: amounts become exact ``Decimal`` with two decimals through
``shared.money.parse_amount`` (a float is refused, it has already lost fen; so is a third decimal
or an amount no ledger column holds), times become ``datetime``. Build claims
from a request with ``parse_claim``, which answers a malformed body with the SPEC code
(``INVALID_REQUEST``, ``INVALID_AMOUNTS``, ``INVALID_DATES``) instead of a ``ValidationError``.
Whether the values make sense together (a negative amount, self-paid parts above the total,
discharge before admission) is the first rule of adjudication.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, WithJsonSchema

from services.settlement.engine.amounts import check_amounts
from services.settlement.engine.errors import Rejected, RejectionCode
from shared.china_time import CHINA_STANDARD_TIME
from shared.money import MAX_AMOUNT, parse_amount
from shared.text import PRINTABLE, reason

AMOUNT_FIELDS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt")
TIME_FIELDS = ("begntime", "endtime")


class MedType(StrEnum):
    """The four kinds of claim of SPEC §5."""

    INPATIENT = "inpatient"
    CHRONIC_OUTPATIENT = "chronic_outpatient"
    GENERAL_OUTPATIENT = "general_outpatient"
    ACCIDENT_OUTPATIENT = "accident_outpatient"


def _moment(value: Any, day_ends: bool) -> datetime:
    if isinstance(value, str):
        text = value.strip()
        try:
            # a date alone ("2024-03-01", "20240301"), or a date and a time
            value = date.fromisoformat(text) if len(text) <= 10 else datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"not an ISO date or date-time: {value!r}") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value
        # Claim times are wall-clock times in the city: an aware one is read in China Standard
        # Time, so the insurance year (the year of admission) is the hospital calendar's.
        try:
            return value.astimezone(CHINA_STANDARD_TIME).replace(tzinfo=None)
        except OverflowError:  # year 1 at +14:00, year 9999 at -12:00: beyond the calendar
            raise ValueError(f"not a date-time of the calendar in China: {value}") from None
    if isinstance(value, date):
        # A date alone stands for the whole day: a discharge "on 1 March" is not before an
        # admission at 08:00 that day.
        return datetime.combine(value, time.max if day_ends else time.min)
    raise ValueError(f"not an ISO date or date-time: {value!r}")


def _start_time(value: Any) -> datetime:
    return _moment(value, day_ends=False)


def _end_time(value: Any) -> datetime:
    return _moment(value, day_ends=True)


# What the OpenAPI document says a hospital sends (the validators below are the rule).
AMOUNT_SCHEMA = WithJsonSchema(
    {
        "anyOf": [
            {"type": "string", "pattern": r"^\d{1,12}(\.\d{1,2})?$", "examples": ["20000.00"]},
            {"type": "integer", "minimum": 0, "maximum": int(MAX_AMOUNT)},
        ],
        "description": "Yuan: a string with at most two decimals, or an integer (never a JSON"
        " number with a fraction: it has already lost fen).",
    }
)
TIME_SCHEMA = WithJsonSchema(
    {
        "type": "string",
        "description": "ISO 8601 date (the whole day) or date-time (naive: the city's clock).",
        "examples": ["2024-03-01T08:00:00"],
    }
)

# Held with exactly two decimals from here on (never "-0.00", which would print): every amount
# computed from it is in fen.
ExactAmount = Annotated[Decimal, BeforeValidator(parse_amount), AMOUNT_SCHEMA]
StartTime = Annotated[datetime, BeforeValidator(_start_time), TIME_SCHEMA]
EndTime = Annotated[datetime, BeforeValidator(_end_time), TIME_SCHEMA]
# Identifiers and codes are stored and looked up: a control character (a NUL, which PostgreSQL
# text cannot hold) is refused here, naming the field.
Identifier = Annotated[str, Field(min_length=1, pattern=PRINTABLE)]


class HospitalProfile(BaseModel):
    """What adjudication needs to know of the hospital: from the registry, never the request."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    level: int = Field(ge=1, le=3)
    public: bool = False
    primary_care: bool = False


class Claim(BaseModel):
    """The SPEC §6 claim body.

    Times are naive city wall-clock times (aware ones are converted to UTC+8); a date alone is
    the start of that day for ``begntime`` and its end for ``endtime``.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    psn_no: Identifier
    mdtrt_id: Identifier
    med_type: MedType
    begntime: StartTime
    endtime: EndTime
    medfee_sumamt: ExactAmount
    fulamt_ownpay_amt: ExactAmount
    overlmt_selfpay: ExactAmount
    preselfpay_amt: ExactAmount
    dise_codg: Annotated[str, Field(pattern=PRINTABLE)] | None = None

    @property
    def insurance_year(self) -> int:
        """The year of admission or visit (SPEC §5)."""
        return self.begntime.year


def parse_claim(data: Mapping[str, Any]) -> Claim:
    """Validate a claim body, refusing with the SPEC code of the first rule it breaks.

    A missing or malformed non-money field is ``INVALID_REQUEST`` (naming the field); an amount
    that is not an exact number is ``INVALID_AMOUNTS``; a time that is not ISO is
    ``INVALID_DATES`` — unless the amounts are wrong as well, since amounts are checked first.
    """
    try:
        return Claim.model_validate(data)
    except ValidationError as exc:
        raise _rejection(data, exc) from None


def _rejection(data: Mapping[str, Any], exc: ValidationError) -> Rejected:
    amount_errors: list[str] = []
    time_errors: list[str] = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(part) for part in error["loc"]) or "claim"
        message = f"{field}: {reason(error)}"
        if error["type"] == "missing" or error.get("input", ...) is None:
            return Rejected(RejectionCode.INVALID_REQUEST, f"{field}: field required")
        if field in AMOUNT_FIELDS:
            amount_errors.append(message)
        elif field in TIME_FIELDS:
            time_errors.append(message)
        else:
            return Rejected(RejectionCode.INVALID_REQUEST, message)
    if amount_errors:
        return Rejected(RejectionCode.INVALID_AMOUNTS, "; ".join(amount_errors))
    # Amounts parsed; their own rules still come before the dates (SPEC §5 order of checks).
    check_amounts(*(parse_amount(data[name]) for name in AMOUNT_FIELDS))
    return Rejected(RejectionCode.INVALID_DATES, "; ".join(time_errors))
