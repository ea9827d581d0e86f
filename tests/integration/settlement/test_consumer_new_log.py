"""A topic deleted and created again under a running consumer whose group survives (issue 9).

Tansu answers a fetch past the end of a log with no records and the new high-water mark, not
OffsetOutOfRange: the consumer waited at its old offset and, once the new log grew past it,
skipped its start for good — persons republished there stayed UNKNOWN_PERSON. Found by the chaos
test's broker swap; the consumer now reads a log that ends before its offset from the beginning.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from services.settlement import migrations
from services.settlement.adapters import coverage_store
from services.settlement.entrypoints import consumer
from shared.db import make_engine
from shared.events import dlq
from shared.kafka import ensure_topics, make_producer
from tests.support.sample_events import Stream

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


async def _recreate(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])
    finally:
        await admin.close()
    await ensure_topics(bootstrap, [topic], partitions=1)


async def test_a_log_that_starts_again_is_read_from_its_start(kafka_bootstrap, sqlite_url):
    topic = f"enrollment.events.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, [topic, dlq(topic)], partitions=1)
    await migrations.upgrade_async(sqlite_url)
    engine = make_engine(sqlite_url)
    stop = asyncio.Event()
    task = asyncio.create_task(  # as `settlement consume` runs it
        consumer.run_forever(engine, kafka_bootstrap, topic=topic, group=f"g-{topic}", stop=stop)
    )
    producer = make_producer(kafka_bootstrap)
    await producer.start()

    async def publish(count: int) -> list[str]:
        people = [Stream() for _ in range(count)]
        for s in people:
            await producer.send_and_wait(topic, s.registered().to_json(), key=s.psn_no.encode())
        return [s.psn_no for s in people]

    async def known(psn_nos: list[str], timeout: float = 60) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            async with engine.connect() as conn:
                found = [await coverage_store.load(conn, p) for p in psn_nos]
            if all(found):
                return
            missing = sum(1 for state in found if state is None)
            assert asyncio.get_running_loop().time() < deadline, f"{missing} never applied"
            await asyncio.sleep(0.2)

    try:
        await known(await publish(30))  # the consumer's offset: 30
        await _recreate(kafka_bootstrap, topic)  # the group and its offset survive
        await known(await publish(5))  # offsets 0–4 of the new log: read only from its start
        await known(await publish(40))  # and the log goes on from there
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await producer.stop()
        await engine.dispose()
