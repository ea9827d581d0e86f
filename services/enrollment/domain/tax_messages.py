"""The tax bureau's payment message (SPEC §4): parse and validate, or say why not (pure).

A payment::

    {"tax_serial": "T2024000001", "certno": "11010519491231002X", "insurance_year": 2024,
     "amount": "360.00", "payer": "individual", "channel": "wechat",
     "paid_at": "2023-10-01T09:30:00+08:00"}

A refund is the same message with ``"kind": "refund"``, its own ``tax_serial``, the
``original_tax_serial`` of the payment it gives back, and a positive ``amount`` (the part refunded);
``paid_at`` is when the money went back; ``payer`` and ``channel`` may be left out. ``kind``
defaults to ``"payment"``. A negative amount never means a refund: it is refused.

``amount`` is a JSON string or number with at most two decimals (numbers are read exactly, never
through float). ``insurance_year`` is a JSON integer. A ``paid_at`` without a UTC offset is read as
China Standard Time (UTC+8), the tax bureau's clock (a date alone is midnight of that day). Unknown
extra fields are ignored.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from shared import certno as certnos
from shared.china_time import CHINA_STANDARD_TIME
from shared.errors import CodedError
from shared.events import Channel, Payer
from shared.money import parse_amount, quantize

log = logging.getLogger(__name__)

MAX_SERIAL = 64
MAX_PAYMENT = Decimal("1000000")  # a premium is hundreds of yuan; this guards the column too


class Reason(StrEnum):
    """Why a message went to the dead-letter topic (stable codes)."""

    MALFORMED_JSON = "MALFORMED_JSON"
    PROCESSING_ERROR = "PROCESSING_ERROR"  # a bug met this message; listed, not retried forever
    NOT_AN_OBJECT = "NOT_AN_OBJECT"
    MISSING_FIELD = "MISSING_FIELD"
    WRONG_TYPE = "WRONG_TYPE"
    INVALID_FIELD = "INVALID_FIELD"
    INVALID_CERTNO = "INVALID_CERTNO"
    NON_POSITIVE_AMOUNT = "NON_POSITIVE_AMOUNT"
    UNKNOWN_CERTNO = "UNKNOWN_CERTNO"
    NOT_REGISTERED_FOR_YEAR = "NOT_REGISTERED_FOR_YEAR"
    UNKNOWN_ORIGINAL_PAYMENT = "UNKNOWN_ORIGINAL_PAYMENT"
    REFUND_EXCEEDS_PAYMENT = "REFUND_EXCEEDS_PAYMENT"


class MessageKind(StrEnum):
    PAYMENT = "payment"
    REFUND = "refund"


class Rejected(CodedError, ValueError):
    """A message that cannot be applied: ``code`` is its ``reason``; ``tax_serial`` is set when
    the message had a usable one."""

    def __init__(self, reason: Reason, message: str, tax_serial: str | None = None) -> None:
        super().__init__(reason.value, message)
        self.reason = reason
        self.tax_serial = tax_serial


@dataclass(frozen=True, slots=True)
class TaxPayment:
    """A valid message: a payment, or (``kind`` refund) money given back for one."""

    tax_serial: str
    certno: str
    insurance_year: int
    amount: Decimal
    payer: Payer
    channel: Channel
    paid_at: datetime
    kind: MessageKind = MessageKind.PAYMENT
    original_tax_serial: str | None = None


def raw_key(raw: bytes) -> str:
    """A stable key for a message without a usable serial: the hash of its bytes."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _serial(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise Rejected(Reason.WRONG_TYPE, f"{field} must be a string")
    serial: str = value.strip()
    if not serial or len(serial) > MAX_SERIAL:
        raise Rejected(Reason.INVALID_FIELD, f"{field} must have 1–{MAX_SERIAL} characters")
    if not serial.isprintable():  # control characters (NUL above all) cannot be stored
        raise Rejected(Reason.INVALID_FIELD, f"{field} has control characters")
    return serial


def _instant(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise Rejected(Reason.WRONG_TYPE, f"{field} must be an ISO 8601 date-time string")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Rejected(Reason.INVALID_FIELD, f"{field} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA_STANDARD_TIME)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+08:00 has no UTC instant
        raise Rejected(Reason.INVALID_FIELD, f"{field} is out of range") from None


def _amount(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise Rejected(Reason.WRONG_TYPE, "amount must be a number or a numeric string")
    try:
        amount = parse_amount(value)
    except ValueError as exc:
        raise Rejected(Reason.INVALID_FIELD, f"amount: {exc}") from None
    if amount <= 0:
        raise Rejected(Reason.NON_POSITIVE_AMOUNT, "amount must be positive")
    if amount > MAX_PAYMENT:
        raise Rejected(Reason.INVALID_FIELD, f"amount is above {MAX_PAYMENT}")
    return quantize(amount)


_MEMBERS: dict[type[Payer] | type[Channel], dict[str, Any]] = {
    enum: {m.value: m for m in enum} for enum in (Payer, Channel)
}
_KINDS = {m.value: m for m in MessageKind}


def _enum(enum: type[Payer] | type[Channel], value: Any, field: str) -> Any:
    if not isinstance(value, str):
        raise Rejected(Reason.WRONG_TYPE, f"{field} must be a string")
    member = _MEMBERS[enum].get(value)
    if member is None:
        allowed = ", ".join(m.value for m in enum)
        raise Rejected(Reason.INVALID_FIELD, f"{field} must be one of {allowed}")
    return member


def decode(raw: bytes) -> dict[str, Any]:
    """The JSON object of a message; numbers are read as Decimal so no amount passes a float."""
    try:
        data = json.loads(raw, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Rejected(Reason.MALFORMED_JSON, "the message is not valid JSON") from None
    if not isinstance(data, dict):
        raise Rejected(Reason.NOT_AN_OBJECT, "the message is not a JSON object")
    return data


def parse(raw: bytes) -> TaxPayment:
    """Validate one message from ``tax.premium-payments``; raises :class:`Rejected` with a reason.

    Checks the message alone; whether the person is registered is the consumer's question.
    """
    data = decode(raw)
    serial = None
    if "tax_serial" in data:
        serial = _serial(data["tax_serial"], "tax_serial")
    try:
        return _fields(data, serial)
    except Rejected as exc:
        exc.tax_serial = serial
        raise


_COMMON_FIELDS = ("tax_serial", "certno", "insurance_year", "amount", "paid_at")
_PAYMENT_FIELDS = (*_COMMON_FIELDS, "payer", "channel")
_REFUND_FIELDS = (*_COMMON_FIELDS, "original_tax_serial")


def _fields(data: dict[str, Any], serial: str | None) -> TaxPayment:
    kind_value = data.get("kind", MessageKind.PAYMENT.value)
    kind = _KINDS.get(kind_value) if isinstance(kind_value, str) else None
    if kind is None:
        raise Rejected(Reason.INVALID_FIELD, "kind must be payment or refund")
    required = _REFUND_FIELDS if kind is MessageKind.REFUND else _PAYMENT_FIELDS
    missing = [f for f in required if data.get(f) is None]
    if missing:
        raise Rejected(Reason.MISSING_FIELD, f"missing field(s): {', '.join(missing)}")
    assert serial is not None
    if not isinstance(data["certno"], str):
        raise Rejected(Reason.WRONG_TYPE, "certno must be a string")
    try:
        certno = certnos.parse(data["certno"]).value
    except certnos.InvalidCertno as exc:
        raise Rejected(Reason.INVALID_CERTNO, str(exc)) from None
    year = data["insurance_year"]
    if isinstance(year, bool) or not isinstance(year, int):
        raise Rejected(Reason.WRONG_TYPE, "insurance_year must be an integer")
    if not 2000 <= year <= 2100:
        raise Rejected(Reason.INVALID_FIELD, "insurance_year is out of range")
    amount = _amount(data["amount"])
    paid_at = _instant(data["paid_at"], "paid_at")
    if kind is MessageKind.REFUND:
        original = _serial(data["original_tax_serial"], "original_tax_serial")
        payer = _enum(Payer, data.get("payer", Payer.INDIVIDUAL.value), "payer")
        channel = _enum(Channel, data.get("channel", Channel.ETAX_APP.value), "channel")
        return TaxPayment(serial, certno, year, amount, payer, channel, paid_at, kind, original)
    payer = _enum(Payer, data["payer"], "payer")
    channel = _enum(Channel, data["channel"], "channel")
    return TaxPayment(serial, certno, year, amount, payer, channel, paid_at)


def to_message(payment: TaxPayment) -> bytes:
    """The wire form of a message (used by tests, benchmarks and the sample producer)."""
    body: dict[str, Any] = {
        "tax_serial": payment.tax_serial,
        "certno": payment.certno,
        "insurance_year": payment.insurance_year,
        "amount": f"{payment.amount:.2f}",
        "payer": payment.payer.value,
        "channel": payment.channel.value,
        "paid_at": payment.paid_at.isoformat(),
    }
    if payment.kind is MessageKind.REFUND:
        body["kind"] = payment.kind.value
        body["original_tax_serial"] = payment.original_tax_serial
    return json.dumps(body).encode()


# --- a batch ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Incoming:
    """One message value; ``unmatched_id`` is set when it is replayed from the unmatched list."""

    raw: bytes
    unmatched_id: int | None = None


@dataclass(frozen=True, slots=True)
class Miss:
    """A message that cannot be applied, with its stable reason code."""

    index: int  # place in the batch: the list keeps the order messages arrived in
    incoming: Incoming
    reason: str
    message: str
    tax_serial: str | None


@dataclass(frozen=True, slots=True)
class Parsed:
    """A batch read and validated message by message: what a decision starts from.

    Parsing needs no database, so the consumer parses the next batch while the current one
    waits on its round trips."""

    batch: Sequence[Incoming]
    good: list[tuple[int, Incoming, TaxPayment]]
    misses: list[Miss]


def processing_error(exc: Exception) -> tuple[str, str]:
    """The reason and message of a message that met a bug (listed, not retried forever)."""
    return Reason.PROCESSING_ERROR.value, f"could not process: {type(exc).__name__}"


def parse_batch(batch: Sequence[Incoming]) -> Parsed:
    """Parse every message of a batch; the bad ones become misses with their reason."""
    misses: list[Miss] = []
    good: list[tuple[int, Incoming, TaxPayment]] = []
    for index, incoming in enumerate(batch):
        try:
            good.append((index, incoming, parse(incoming.raw)))
        except Rejected as exc:
            misses.append(Miss(index, incoming, exc.code, exc.message, exc.tax_serial))
        except Exception as exc:  # a poison message must not stop the feed: list it
            log.exception("unexpected error parsing a tax message")
            misses.append(Miss(index, incoming, *processing_error(exc), None))
    return Parsed(batch, good, misses)
