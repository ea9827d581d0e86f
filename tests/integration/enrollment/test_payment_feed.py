"""The tax bureau's feed against a real broker: every good payment becomes exactly one
premium-paid event on enrollment.events; every other message is in the DLQ topic and the
unmatched list with its reason."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from services.enrollment.adapters.relay import OutboxRelay
from services.enrollment.adapters.tables import payments, unmatched_payments
from services.enrollment.bootstrap import unit_of_work_factory as uow_for
from services.enrollment.domain.school_lists import parse_list
from services.enrollment.entrypoints.payment_consumer import PaymentConsumer
from services.enrollment.service_layer.payments import DLQ_TOPIC, retry_unmatched
from services.enrollment.service_layer.school_lists import ImportBy, import_rows
from services.enrollment.settings import PREMIUM_RULES_DIR
from shared.db import make_engine, make_sessionmaker
from shared.events import TOPIC_ENROLLMENT_EVENTS

from .feed_helpers import produce, read_topic, wait_for
from .people import unique_certno

pytestmark = pytest.mark.integration

HEADER = "certno,name,category,organization,region,identity\n"


async def register(sessionmaker, *numbers: int) -> None:
    text = HEADER + "".join(f"{unique_certno(n)},学生{n},student,一中,110105,\n" for n in numbers)
    await import_rows(
        uow_for(sessionmaker),
        parse_list(text.encode()),
        2024,
        PREMIUM_RULES_DIR,
        by=ImportBy.system(),
        now=datetime(2024, 3, 1, tzinfo=UTC),
    )


def payment(serial: str, n: int, amount: str = "360.00", **extra) -> bytes:
    body = {
        "tax_serial": serial,
        "certno": unique_certno(n),
        "insurance_year": 2024,
        "amount": amount,
        "payer": "individual",
        "channel": "alipay",
        "paid_at": "2024-03-02T10:00:00+08:00",
        **extra,
    }
    return json.dumps(body).encode()


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
        async with sessionmaker() as session:
            rows = await session.execute(
                select(unmatched_payments.c.reason, unmatched_payments.c.raw).order_by(
                    unmatched_payments.c.id
                )
            )
            listed = {bytes(raw): reason for reason, raw in rows.all()}
        assert listed == bad

        # a late registration, then `payments retry`
        await register(sessionmaker, late)
        outcome = await retry_unmatched(uow_for(sessionmaker))
        assert (outcome.applied, outcome.unmatched) == (1, len(bad) - 1)
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
    finally:
        consumer.stop()
        relay.stop()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 20)
        await engine.dispose()


async def _settled(sessionmaker, *, applied: int, unmatched: int) -> bool:
    return (
        await count(sessionmaker, payments) == applied
        and await count(sessionmaker, unmatched_payments) == unmatched
    )
