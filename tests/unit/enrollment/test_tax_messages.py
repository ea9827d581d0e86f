"""The tax bureau's message (SPEC §4): what is accepted, and the reason for everything refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.enrollment.domain.tax_messages import MessageKind, Reason, Rejected, parse, to_message
from shared.events import Channel, Payer

pytestmark = pytest.mark.unit

GOOD = {
    "tax_serial": "T0001",
    "certno": "11010519491231002X",
    "insurance_year": 2024,
    "amount": "360.00",
    "payer": "individual",
    "channel": "wechat",
    "paid_at": "2023-10-01T09:30:00+08:00",
}


def _raw(**changes) -> bytes:
    body = {**GOOD, **changes}
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


def test_a_good_payment_is_parsed_exactly():
    payment = parse(_raw())
    assert payment.tax_serial == "T0001"
    assert payment.amount == Decimal("360.00")
    assert payment.payer is Payer.INDIVIDUAL and payment.channel is Channel.WECHAT
    assert payment.paid_at == datetime(2023, 10, 1, 1, 30, tzinfo=UTC)
    assert payment.kind is MessageKind.PAYMENT
    assert parse(to_message(payment)) == payment


def test_json_numbers_are_read_exactly_and_lower_case_x_is_normalised():
    raw = b'{"tax_serial":"T2","certno":"11010519491231002x","insurance_year":2024,'
    raw += b'"amount":360.10,"payer":"school","channel":"school_batch",'
    raw += b'"paid_at":"2023-10-01T09:30:00Z"}'
    payment = parse(raw)
    assert payment.amount == Decimal("360.10")
    assert payment.certno.endswith("X")


def test_a_time_without_offset_is_china_standard_time():
    assert parse(_raw(paid_at="2023-10-01 08:00:00")).paid_at == datetime(
        2023, 10, 1, 0, 0, tzinfo=UTC
    )


def test_a_date_alone_is_midnight_china_time():
    assert parse(_raw(paid_at="2023-10-01")).paid_at == datetime(2023, 9, 30, 16, tzinfo=UTC)


def test_a_refund_names_its_original_payment():
    payment = parse(
        _raw(kind="refund", tax_serial="R1", original_tax_serial="T0001", payer=..., channel=...)
    )
    assert payment.kind is MessageKind.REFUND
    assert payment.original_tax_serial == "T0001"
    with pytest.raises(Rejected) as err:
        parse(_raw(kind="refund", tax_serial="R1"))
    assert err.value.reason is Reason.MISSING_FIELD


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", Reason.MALFORMED_JSON),
        (b"\xff\xfe", Reason.MALFORMED_JSON),
        (b"[1, 2]", Reason.NOT_AN_OBJECT),
        (_raw(amount=...), Reason.MISSING_FIELD),
        (_raw(tax_serial=...), Reason.MISSING_FIELD),
        (_raw(paid_at=None), Reason.MISSING_FIELD),
        (_raw(amount="0"), Reason.NON_POSITIVE_AMOUNT),
        (_raw(amount="-360.00"), Reason.NON_POSITIVE_AMOUNT),
        (_raw(amount="abc"), Reason.INVALID_FIELD),
        (_raw(amount="1.001"), Reason.INVALID_FIELD),
        (_raw(amount=True), Reason.WRONG_TYPE),
        (_raw(amount=[360]), Reason.WRONG_TYPE),
        (_raw(insurance_year="2024"), Reason.WRONG_TYPE),
        (_raw(insurance_year=1900), Reason.INVALID_FIELD),
        (_raw(certno=110105194912310020), Reason.WRONG_TYPE),
        (_raw(certno="110105194912310021"), Reason.INVALID_CERTNO),
        (_raw(payer="uncle"), Reason.INVALID_FIELD),
        (_raw(channel=7), Reason.WRONG_TYPE),
        (_raw(paid_at="yesterday"), Reason.INVALID_FIELD),
        (_raw(tax_serial=12), Reason.WRONG_TYPE),
        (_raw(tax_serial=""), Reason.INVALID_FIELD),
        (_raw(kind="gift"), Reason.INVALID_FIELD),
    ],
)
def test_every_bad_message_has_a_reason(raw, reason):
    with pytest.raises(Rejected) as err:
        parse(raw)
    assert err.value.reason is reason
    assert "11010519491231002" not in err.value.message


def test_a_rejected_message_keeps_its_serial_when_it_had_a_usable_one():
    with pytest.raises(Rejected) as err:
        parse(_raw(amount="-1"))
    assert err.value.tax_serial == "T0001"
    with pytest.raises(Rejected) as err:
        parse(b"{")
    assert err.value.tax_serial is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"[" * 100_000, Reason.MALFORMED_JSON),
        (_raw(paid_at="0001-01-01T00:00:00+08:00"), Reason.INVALID_FIELD),
        (_raw(amount="1e999999"), Reason.INVALID_FIELD),
        (_raw(amount="1000000.01"), Reason.INVALID_FIELD),
        (_raw(tax_serial="T\u0000"), Reason.INVALID_FIELD),
    ],
)
def test_pathological_messages_are_refused_not_raised(raw, reason):
    with pytest.raises(Rejected) as err:
        parse(raw)
    assert err.value.reason is reason
