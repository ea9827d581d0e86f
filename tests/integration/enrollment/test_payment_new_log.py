"""The tax feed's topic deleted and created again under a running consumer whose group survives.

Tansu answers a fetch past the end of a log with no records and the new high-water mark, not
OffsetOutOfRange: the payment consumer waited at its old offset and, once the new log grew past
it, skipped the payments at its start for good (what the tax bureau sends again after a broker
lost its log). It now reads a log that ends before its offset from the beginning; a serial it
already has changes nothing.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from services.enrollment import bootstrap
from services.enrollment.adapters.tables import payments
from services.enrollment.bootstrap import unit_of_work_factory as uow_for
from services.enrollment.entrypoints.payment_consumer import PaymentConsumer
from shared.db import make_engine, make_sessionmaker
from shared.kafka import ensure_topics

from .feed_helpers import produce, wait_for
from .test_payment_feed import count, payment, register

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


async def test_a_feed_that_starts_again_is_read_from_its_start(sqlite_url, kafka_bootstrap):
    run = uuid.uuid4().hex[:8]
    topic = f"tax.premium-payments.{run}"
    await ensure_topics(kafka_bootstrap, [topic], partitions=1)
    await bootstrap.migrate_async(sqlite_url)
    engine = make_engine(sqlite_url)
    sessionmaker = make_sessionmaker(engine)
    await register(sessionmaker, *range(75))
    consumer = PaymentConsumer(
        uow_for(sessionmaker), kafka_bootstrap, topic=topic, group_id=f"enrollment-{run}"
    )
    task = asyncio.create_task(consumer.run())

    async def pay(people: range) -> None:
        await produce(kafka_bootstrap, topic, [payment(f"{run}-{n}", n) for n in people])

        async def applied() -> bool:
            return await count(sessionmaker, payments) == people.stop

        await wait_for(applied, 60)

    try:
        await pay(range(30))  # the group's offset: 30
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([topic])  # the group and its offset survive
        finally:
            await admin.close()
        await ensure_topics(kafka_bootstrap, [topic], partitions=1)
        await pay(range(30, 35))  # offsets 0–4 of the new log: read only from its start
        await pay(range(35, 75))  # and the log goes on from there
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 30)
        await engine.dispose()
