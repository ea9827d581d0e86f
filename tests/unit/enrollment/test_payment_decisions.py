"""The tax feed's decision over a batch, without a database: states in, events and rows out."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.enrollment.domain.payments import (
    Known,
    OriginalPayment,
    dead_letter,
    decide,
    dedup_key,
    unmatched_row,
)
from services.enrollment.domain.state import PersonState, fold
from services.enrollment.domain.tax_messages import Incoming, parse_batch
from shared.events import (
    DeceasedStop,
    Event,
    Identity,
    PremiumPaid,
    PremiumRefunded,
    SubsidyGranted,
)
from tests.support.sample_events import wang_fang

pytestmark = pytest.mark.unit

CERTNO = "11010519491231002X"
OTHER = "440524188001010014"
PSN = "P1"


def history(identity: Identity = Identity.ORDINARY, *, dead: bool = False) -> list[Event]:
    """A person registered for 2024 (and dead since February, if ``dead``)."""
    payloads = [wang_fang(certno=CERTNO, identity=identity)]
    if dead:
        payloads.append(
            DeceasedStop(date_of_death=date(2024, 2, 1), settlement_deadline=date(2024, 3, 1))
        )
    return [
        Event.new(
            p,
            psn_no=PSN,
            stream_version=n,
            occurred_at=datetime(2024, 1, 2, tzinfo=UTC),
            actor="system",
        )
        for n, p in enumerate(payloads, start=1)
    ]


def person(identity: Identity = Identity.ORDINARY, *, dead: bool = False) -> PersonState:
    state = fold(history(identity, dead=dead))
    assert state is not None
    return state


def message(serial: str, amount: str = "400.00", certno: str = CERTNO, **extra) -> Incoming:
    body = {
        "tax_serial": serial,
        "certno": certno,
        "insurance_year": 2024,
        "amount": amount,
        "payer": "individual",
        "channel": "wechat",
        "paid_at": "2024-03-02T10:00:00+08:00",
        **extra,
    }
    return Incoming(json.dumps(body).encode())


def refund_of(original: str, serial: str, amount: str, **extra) -> Incoming:
    return message(serial, amount, kind="refund", original_tax_serial=original, **extra)


def known(state: PersonState | None = None, **more) -> Known:
    state = state or person()
    return Known(people={CERTNO: PSN}, states={PSN: state}, **more)


def test_a_payment_appends_premium_paid_after_the_stream_and_one_payments_row():
    decision = decide(parse_batch([message("T1")]), known())
    [event] = decision.events
    assert (event.psn_no, event.stream_version) == (PSN, 2)
    assert event.payload == PremiumPaid(
        insurance_year=2024,
        amount=Decimal("400.00"),
        payer="individual",
        channel="wechat",
        tax_serial="T1",
        paid_at=datetime(2024, 3, 2, 2, tzinfo=UTC),
    )
    assert event.occurred_at == datetime(2024, 3, 2, 2, tzinfo=UTC)
    [row] = decision.payments
    assert (row.tax_serial, row.kind, row.psn_no, row.amount) == ("T1", "payment", PSN, 400)
    assert (decision.applied, decision.duplicates, decision.misses) == (1, 0, [])
    assert decision.subsidies == []


def test_a_serial_twice_in_one_batch_is_applied_once():
    decision = decide(parse_batch([message("T1"), message("T1")]), known())
    assert (decision.applied, decision.duplicates) == (1, 1)
    assert len(decision.events) == len(decision.payments) == 1


def test_a_serial_already_applied_or_in_the_stream_is_a_duplicate():
    paid = decide(parse_batch([message("T1")]), known())
    state = fold([*history(), *paid.events])
    assert state is not None
    in_table = decide(parse_batch([message("T1")]), known(taken=frozenset({"T1"})))
    in_stream = decide(parse_batch([message("T1")]), known(state))
    for decision in (in_table, in_stream):
        assert (decision.applied, decision.duplicates, decision.events) == (0, 1, [])


def test_an_unknown_certno_is_a_miss_that_does_not_echo_the_number():
    decision = decide(parse_batch([message("U1", certno=OTHER)]), known())
    [miss] = decision.misses
    assert (miss.reason, miss.tax_serial) == ("UNKNOWN_CERTNO", "U1")
    assert OTHER not in miss.message
    assert decision.events == [] and decision.payments == []


def test_an_overpayment_is_recorded_not_dropped():
    decision = decide(parse_batch([message("O1"), message("O2", amount="40.00")]), known())
    assert decision.applied == 2
    state = fold([*history(), *decision.events])
    assert state is not None
    assert state.years[2024].premium_paid == Decimal("440.00")
    assert state.years[2024].premium_due == Decimal("400.00")


def test_a_refund_of_a_payment_in_the_same_batch_gives_money_back_within_its_amount():
    batch = [
        message("P1"),
        refund_of("P1", "R1", "150.00"),
        refund_of("P1", "R1", "150.00"),  # redelivered: a duplicate
        refund_of("P1", "R2", "300.00"),  # 150 + 300 > 400
    ]
    decision = decide(parse_batch(batch), known())
    assert (decision.applied, decision.duplicates) == (2, 1)
    assert [type(e.payload) for e in decision.events] == [PremiumPaid, PremiumRefunded]
    assert [e.stream_version for e in decision.events] == [2, 3]
    [miss] = decision.misses
    assert (miss.reason, miss.tax_serial, miss.index) == ("REFUND_EXCEEDS_PAYMENT", "R2", 3)
    assert [(r.tax_serial, r.kind, r.original_tax_serial) for r in decision.payments] == [
        ("P1", "payment", None),
        ("R1", "refund", "P1"),
    ]


def test_a_refund_counts_what_was_refunded_before_the_batch():
    originals = {"P1": OriginalPayment(PSN, 2024, Decimal("400.00"))}
    decision = decide(
        parse_batch([refund_of("P1", "R3", "100.00")]),
        known(originals=originals, refunded={"P1": Decimal("350.00")}),
    )
    assert [m.reason for m in decision.misses] == ["REFUND_EXCEEDS_PAYMENT"]


def test_a_refund_for_another_person_or_year_is_refused():
    originals = {"P1": OriginalPayment("P2", 2024, Decimal("400.00"))}
    decision = decide(parse_batch([refund_of("P1", "R4", "10.00")]), known(originals=originals))
    assert [m.reason for m in decision.misses] == ["INVALID_FIELD"]


def test_a_refund_of_an_unknown_payment_waits_and_applies_once_the_payment_is_known():
    waiting = decide(parse_batch([refund_of("P9", "R9", "60.00")]), known())
    assert [m.reason for m in waiting.misses] == ["UNKNOWN_ORIGINAL_PAYMENT"]
    replayed = Incoming(refund_of("P9", "R9", "60.00").raw, unmatched_id=7)
    originals = {"P9": OriginalPayment(PSN, 2024, Decimal("400.00"))}
    decision = decide(parse_batch([replayed]), known(originals=originals))
    assert [type(e.payload) for e in decision.events] == [PremiumRefunded]
    assert decision.resolved == [(7, "applied")]


def test_a_subsidy_is_granted_on_payment_after_the_premium_paid_event():
    decision = decide(parse_batch([message("S1")]), known(person(Identity.LOW_INCOME_ELDERLY)))
    paid, granted = decision.events
    assert isinstance(paid.payload, PremiumPaid)
    assert isinstance(granted.payload, SubsidyGranted)
    assert (granted.payload.kind, granted.payload.amount) == ("low_income_60", Decimal("240.00"))
    assert granted.stream_version == paid.stream_version + 1
    [row] = decision.subsidies
    assert (row.tax_serial, row.amount, row.event_id) == (
        "S1",
        Decimal("240.00"),
        str(granted.event_id),
    )


def test_a_year_not_registered_and_a_dead_person_are_misses_with_their_codes():
    year = decide(parse_batch([message("Y1", insurance_year=2025)]), known())
    dead = decide(parse_batch([message("D1")]), known(person(dead=True)))
    assert [m.reason for m in year.misses] == ["NOT_REGISTERED_FOR_YEAR"]
    assert [m.reason for m in dead.misses] == ["ALREADY_DECEASED"]


def test_misses_keep_batch_order_and_become_rows_and_dead_letters():
    batch = [message("U1", certno=OTHER), Incoming(b"not json"), message("OK")]
    decision = decide(parse_batch(batch), known())
    assert [m.index for m in decision.misses] == [0, 1]
    assert dedup_key(decision.misses[0]) == "U1"
    row = unmatched_row(decision.misses[1])
    assert row.dedup_key.startswith("sha256:") and row.raw == b"not json"
    record = json.loads(dead_letter(decision.misses[1], datetime(2024, 3, 2, tzinfo=UTC)))
    assert record["reason"] == "MALFORMED_JSON" and record["original"] == "not json"
    assert decision.applied == 1
