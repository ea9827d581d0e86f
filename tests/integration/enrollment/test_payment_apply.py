"""Applying tax messages to the store: exactly one event per payment, or an unmatched row."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from services.enrollment.adapters.tables import (
    events,
    outbox,
    payments,
    subsidies,
    unmatched_payments,
)
from services.enrollment.bootstrap import unit_of_work_factory as uow_for
from services.enrollment.domain.state import PersonState, fold
from services.enrollment.service_layer.payments import Incoming, apply_messages, retry_unmatched

from . import people
from .people import payment_body, unique_certno

pytestmark = pytest.mark.integration


async def register(sessionmaker, *numbers: int, identity: str = "", year: int = 2024) -> None:
    await people.register(
        sessionmaker,
        *numbers,
        identity=identity,
        year=year,
        now=datetime(2024, 3, 1, 2, tzinfo=UTC),
    )


def msg(serial: str, n: int, amount: str = "360.00", **extra) -> Incoming:
    return Incoming(payment_body(serial, n, amount, **({"channel": "wechat"} | extra)))


async def event_types(sessionmaker) -> list[str]:
    async with sessionmaker() as session:
        return list((await session.execute(select(events.c.event_type))).scalars())


async def state_of(sessionmaker, n: int) -> PersonState:
    async with sessionmaker() as session:
        psn = (
            await session.execute(
                select(events.c.psn_no).where(events.c.payload.contains(unique_certno(n)))
            )
        ).scalar_one()
    async with uow_for(sessionmaker)() as work:
        stream = await work.events.load(psn)
    state = fold(stream)
    assert state is not None
    return state


async def unmatched(sessionmaker) -> list[tuple[str | None, str, object]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(
                unmatched_payments.c.tax_serial,
                unmatched_payments.c.reason,
                unmatched_payments.c.resolved_at,
            ).order_by(unmatched_payments.c.id)
        )
        return [tuple(r) for r in rows.all()]


async def dlq_records(sessionmaker) -> list[dict]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(outbox.c.value).where(outbox.c.topic == "tax.premium-payments.dlq")
        )
        return [json.loads(v) for v in rows.scalars()]


async def test_a_payment_becomes_one_event_and_duplicates_do_nothing(sessionmaker):
    await register(sessionmaker, 1, 2)
    out = await apply_messages(uow_for(sessionmaker), [msg("T1", 1), msg("T1", 1), msg("T2", 2)])
    assert (out.applied, out.duplicates, out.unmatched) == (2, 1, 0)
    again = await apply_messages(uow_for(sessionmaker), [msg("T1", 1), msg("T2", 2)])
    assert (again.applied, again.duplicates) == (0, 2)
    assert (await event_types(sessionmaker)).count("premium-paid") == 2
    state = await state_of(sessionmaker, 1)
    assert state.years[2024].premium_paid == Decimal("360.00")
    assert state.years[2024].covered


async def test_every_kind_of_bad_message_is_listed_once_with_its_reason(sessionmaker):
    await register(sessionmaker, 1)
    bad = [
        Incoming(b"{oops"),
        Incoming(b'"a string"'),
        msg("B1", 1, amount="-5"),
        msg("B2", 1, amount="0"),
        msg("B3", 1, payer="uncle"),
        msg("B4", 99),  # nobody registered
        msg("B5", 1, insurance_year=2023),
        Incoming(b'{"tax_serial": "B6"}'),
        msg("B7", 1, insurance_year="2024"),
        msg("B8", 1, kind="refund", original_tax_serial="NOPE"),
    ]
    out = await apply_messages(uow_for(sessionmaker), bad)
    assert (out.applied, out.unmatched) == (0, 10)
    # a redelivery (crash before the offset commit) lists and dead-letters nothing twice
    await apply_messages(uow_for(sessionmaker), bad)
    reasons = [r for _, r, _ in await unmatched(sessionmaker)]
    assert reasons == [
        "MALFORMED_JSON",
        "NOT_AN_OBJECT",
        "NON_POSITIVE_AMOUNT",
        "NON_POSITIVE_AMOUNT",
        "INVALID_FIELD",
        "UNKNOWN_CERTNO",
        "NOT_REGISTERED_FOR_YEAR",
        "MISSING_FIELD",
        "WRONG_TYPE",
        "UNKNOWN_ORIGINAL_PAYMENT",
    ]
    records = await dlq_records(sessionmaker)
    assert len(records) == 10
    assert {r["reason"] for r in records} == set(reasons)
    assert records[0]["original"] == "{oops"
    assert "premium-paid" not in await event_types(sessionmaker)


async def test_a_late_registration_then_retry_applies_the_payment_once(sessionmaker):
    await apply_messages(uow_for(sessionmaker), [msg("L1", 5)])
    assert [r for _, r, _ in await unmatched(sessionmaker)] == ["UNKNOWN_CERTNO"]
    still = await retry_unmatched(uow_for(sessionmaker))
    assert (still.applied, still.unmatched) == (0, 1)
    await register(sessionmaker, 5)
    done = await retry_unmatched(uow_for(sessionmaker))
    assert (done.applied, done.resolved) == (1, 1)
    assert (await retry_unmatched(uow_for(sessionmaker))).applied == 0
    (serial, _, resolved_at) = (await unmatched(sessionmaker))[0]
    assert serial == "L1" and resolved_at is not None
    assert (await event_types(sessionmaker)).count("premium-paid") == 1
    assert len(await dlq_records(sessionmaker)) == 1


async def test_a_refund_takes_the_money_back_but_never_more_than_was_paid(sessionmaker):
    await register(sessionmaker, 1)
    await apply_messages(uow_for(sessionmaker), [msg("P1", 1)])
    refund = msg("R1", 1, amount="100.00", kind="refund", original_tax_serial="P1")
    too_much = msg("R2", 1, amount="260.01", kind="refund", original_tax_serial="P1")
    out = await apply_messages(uow_for(sessionmaker), [refund, refund, too_much])
    assert (out.applied, out.duplicates, out.unmatched) == (1, 1, 1)
    assert out.reasons == {"REFUND_EXCEEDS_PAYMENT": 1}
    state = await state_of(sessionmaker, 1)
    assert state.years[2024].premium_paid == Decimal("260.00")
    assert not state.years[2024].covered
    assert (await event_types(sessionmaker)).count("premium-refunded") == 1


async def test_an_overpayment_is_recorded_not_dropped(sessionmaker):
    await register(sessionmaker, 1)
    await apply_messages(uow_for(sessionmaker), [msg("O1", 1), msg("O2", 1, amount="40.00")])
    state = await state_of(sessionmaker, 1)
    assert state.years[2024].premium_paid == Decimal("400.00")
    async with sessionmaker() as session:
        assert len((await session.execute(select(payments))).all()) == 2


async def test_subsidies_follow_the_identity_and_date(sessionmaker):
    await register(sessionmaker, 1, identity="low_income_elderly")
    await register(sessionmaker, 2, identity="severe_disability")
    await apply_messages(
        uow_for(sessionmaker),
        [msg("S1", 1), msg("S2", 2, payer="government", channel="government")],
    )
    async with sessionmaker() as session:
        rows = {
            (r.psn_no, r.tax_serial): (r.kind, r.status, Decimal(r.amount))
            for r in (await session.execute(select(subsidies))).all()
        }
    low_income, disabled = (await state_of(sessionmaker, 1)), (await state_of(sessionmaker, 2))
    # registered with the identity in March: added before 30 June of 2024. The low-income person
    # gets 60 % of their payment; the disabled person's premium is paid on their behalf from the
    # registration on (answering no payment), and the government's payment settles nothing more.
    assert rows == {
        (low_income.psn_no, "S1"): ("low_income_60", "payable", Decimal("216.00")),
        (disabled.psn_no, None): ("paid_on_behalf", "payable", Decimal("360.00")),
    }
    assert (await event_types(sessionmaker)).count("subsidy-granted") == 2
    year = low_income.years[2024]
    assert (year.premium_paid, year.subsidised) == (Decimal(360), Decimal(216))
    assert year.covered and disabled.years[2024].covered


async def test_the_same_batch_applied_twice_at_once_pays_once(sessionmaker):
    import asyncio

    await register(sessionmaker, *range(10, 30))
    batch = [msg(f"C{n}", n) for n in range(10, 30)]
    one, two = await asyncio.gather(
        apply_messages(uow_for(sessionmaker), batch), apply_messages(uow_for(sessionmaker), batch)
    )
    assert one.applied + two.applied == 20, (one, two)
    assert one.duplicates + two.duplicates == 20
    assert (await event_types(sessionmaker)).count("premium-paid") == 20


async def test_a_refund_that_overtook_its_payment_is_applied_once_the_payment_is(sessionmaker):
    from services.enrollment.service_layer.payments import retry_waiting_refunds

    await register(sessionmaker, 1)
    refund = msg("RR1", 1, amount="60.00", kind="refund", original_tax_serial="PP1")
    assert (await apply_messages(uow_for(sessionmaker), [refund])).reasons == {
        "UNKNOWN_ORIGINAL_PAYMENT": 1
    }
    assert (await retry_waiting_refunds(uow_for(sessionmaker))).applied == 0
    await apply_messages(uow_for(sessionmaker), [msg("PP1", 1)])
    assert (await retry_waiting_refunds(uow_for(sessionmaker))).applied == 1
    assert (await retry_waiting_refunds(uow_for(sessionmaker))).applied == 0
    state = await state_of(sessionmaker, 1)
    assert state.years[2024].premium_paid == Decimal("300.00")
    [(serial, _, resolved_at)] = await unmatched(sessionmaker)
    assert serial == "RR1" and resolved_at is not None
