"""The tax bureau's feed against a real broker: every good payment becomes exactly one
premium-paid event on enrollment.events; every other message is in the DLQ topic and the
unmatched list with its reason."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from sqlalchemy import func, select

from services.enrollment.adapters.relay import OutboxRelay
from services.enrollment.adapters.tables import payments, unmatched_payments
from services.enrollment.bootstrap import unit_of_work_factory as uow_for
from services.enrollment.entrypoints.payment_consumer import PaymentConsumer
from services.enrollment.service_layer.payments import DLQ_TOPIC, retry_unmatched
from shared.db import make_engine, make_sessionmaker
from shared.events import TOPIC_ENROLLMENT_EVENTS

from .feed_helpers import produce, read_topic, wait_for
from .people import payment_body, register, unique_certno

pytestmark = pytest.mark.integration


def payment(serial: str, n: int, amount: str = "360.00", **extra) -> bytes:
    return payment_body(serial, n, amount, **({"channel": "alipay"} | extra))


async def count(sessionmaker, table, *where) -> int:
    async with sessionmaker() as session:
        query = select(func.count()).select_from(table)
        if where:
            query = query.where(*where)
        return (await session.execute(query)).scalar_one()


async def test_the_feed_applies_good_payments_once_and_dead_letters_the_rest(
    migrated_url, kafka_bootstrap
):
    run = uuid.uuid4().hex[:8]
    topic = f"tax.premium-payments.{run}"
    s = lambda name: f"{run}-{name}"  # noqa: E731 — serials unique to this run
    engine = make_engine(migrated_url)
    sessionmaker = make_sessionmaker(engine)
    base = 700 + (hash(migrated_url) % 50) * 10
    a, b, c, late = base, base + 1, base + 2, base + 3
    await register(sessionmaker, a, b, c)
    good, duplicates, refund, bad = _messages(s, run, a, b, c, late)
    relay = OutboxRelay(engine, sessionmaker, kafka_bootstrap, poll_interval=0.05)
    consumer = PaymentConsumer(
        uow_for(sessionmaker),
        kafka_bootstrap,
        topic=topic,
        group_id=f"enrollment-{run}",
        batch_size=4,
    )
    tasks = [asyncio.create_task(relay.run()), asyncio.create_task(consumer.run())]
    try:
        await produce(kafka_bootstrap, topic, [*good, *duplicates, refund, *bad])
        await wait_for(
            lambda: _settled(sessionmaker, applied=len(good) + 1, unmatched=len(bad)), 60
        )
        assert await _unmatched_listed(sessionmaker) == bad

        # a late registration, then `payments retry`
        await register(sessionmaker, late)
        outcome = await retry_unmatched(uow_for(sessionmaker))
        assert (outcome.applied, outcome.unmatched) == (1, len(bad) - 1)
        await _check_topics(kafka_bootstrap, s, run, bad)
    finally:
        consumer.stop()
        relay.stop()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 20)
        await engine.dispose()


def _messages(s, run: str, a: int, b: int, c: int, late: int):
    """The good payments, their duplicates, a refund, and each bad message with its reason."""
    good = [
        payment(s("G1"), a),
        payment(s("G2"), b),
        payment(s("G3"), c, amount="200.00"),
        payment(s("G4"), c, amount="200.00"),  # overpaid by 40: recorded, not dropped
        payment(s("G5"), b, payer="school", channel="school_batch", amount="10.00"),
    ]
    duplicates = [payment(s("G1"), a), payment(s("G2"), b)]
    refund = payment(s("R1"), b, amount="10.00", kind="refund", original_tax_serial=s("G5"))
    bad = {
        b"{this is not json " + run.encode(): "MALFORMED_JSON",
        json.dumps({"tax_serial": s("B1"), "certno": unique_certno(a)}).encode(): ("MISSING_FIELD"),
        payment(s("B2"), a, amount="-360.00"): "NON_POSITIVE_AMOUNT",
        payment(s("B3"), a, amount="0"): "NON_POSITIVE_AMOUNT",
        payment(s("B4"), a, insurance_year="2024"): "WRONG_TYPE",
        payment(s("B5"), a, insurance_year=2023): "NOT_REGISTERED_FOR_YEAR",
        payment(s("B6"), late): "UNKNOWN_CERTNO",  # registered later, then retried
    }
    return good, duplicates, refund, bad


async def _unmatched_listed(sessionmaker) -> dict[bytes, str]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(unmatched_payments.c.reason, unmatched_payments.c.raw).order_by(
                unmatched_payments.c.id
            )
        )
        return {bytes(raw): reason for reason, raw in rows.all()}


async def _check_topics(kafka_bootstrap: str, s, run: str, bad: dict[bytes, str]) -> None:
    """Exactly one premium-paid event per good payment (B6 after its retry), the refund, and
    every bad message on the DLQ with its reason."""
    expected_paid = {s(f"G{i}") for i in range(1, 6)} | {s("B6")}

    ours = lambda v: v.get("payload", {}).get("tax_serial", "").startswith(run)  # noqa: E731
    events = await read_topic(
        kafka_bootstrap, TOPIC_ENROLLMENT_EVENTS, ours, expect=len(expected_paid) + 1
    )
    paid = [e["payload"]["tax_serial"] for e in events if e["event_type"] == "premium-paid"]
    assert sorted(paid) == sorted(expected_paid)  # exactly one each
    refunded = [e for e in events if e["event_type"] == "premium-refunded"]
    assert [e["payload"]["original_tax_serial"] for e in refunded] == [s("G5")]

    in_dlq = lambda v: v.get("original", "").find(run) >= 0  # noqa: E731
    dead = await read_topic(kafka_bootstrap, DLQ_TOPIC, in_dlq, expect=len(bad))
    assert len(dead) == len(bad)
    assert {d["original"].encode(): d["reason"] for d in dead} == bad


async def _settled(sessionmaker, *, applied: int, unmatched: int) -> bool:
    return (
        await count(sessionmaker, payments) == applied
        and await count(sessionmaker, unmatched_payments) == unmatched
    )
