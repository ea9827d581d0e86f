"""A poison message's dead letter is written in the consumer's own transaction, beside its
``dead_letters`` row, as an outbox row; the relay publishes it — after a crash too — once."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import ConsumerRecord
from sqlalchemy import func, select

from services.settlement import migrations
from services.settlement.adapters import dead_letters as dead_letters_adapter
from services.settlement.adapters.tables import dead_letters, outbox
from services.settlement.entrypoints import consumer
from shared.db import make_engine
from shared.events import dlq
from shared.kafka import ensure_topics
from tests.integration.settlement.conftest import dlq_records

pytestmark = pytest.mark.integration

POISON = b"\xff\xfe{not json, not even UTF-8"


def _record(topic: str, offset: int = 7) -> ConsumerRecord:
    return ConsumerRecord(
        topic=topic,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"P0001",
        value=POISON,
        checksum=None,
        serialized_key_size=5,
        serialized_value_size=len(POISON),
        headers=[],
    )


async def _count(engine, table) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)))


async def test_a_crash_before_the_relay_loses_no_dead_letter_and_sends_it_once(
    db_url, kafka_bootstrap
):
    topic = f"enrollment.events.{uuid.uuid4().hex[:8]}"
    await migrations.upgrade_async(db_url)
    engine = make_engine(db_url)
    try:
        sink = consumer.EventSink(engine)
        assert await sink.handle(_record(topic)) == "dead_lettered"
        assert await sink.handle(_record(topic)) == "dead_lettered"  # redelivered: no new row
        async with engine.connect() as conn:
            [row] = (await conn.execute(select(outbox))).all()
            assert await conn.scalar(select(func.count()).select_from(dead_letters)) == 1
        assert (row.topic, row.key, row.value) == (dlq(topic), b"P0001", POISON)
    finally:
        await engine.dispose()  # the process dies here: no relay has run

    await ensure_topics(kafka_bootstrap, [dlq(topic)], partitions=1)
    engine = make_engine(db_url)  # the next process
    relay = consumer.dead_letter_relay(engine, kafka_bootstrap, topic)
    running = asyncio.create_task(relay.run())
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while await _count(engine, outbox):
            assert asyncio.get_running_loop().time() < deadline, "outbox not drained"
            await asyncio.sleep(0.1)
        [record] = await dlq_records(kafka_bootstrap, topic, want=1)
        assert (record.key, record.value) == (b"P0001", POISON)
        headers = dict(record.headers)
        assert headers["source"] == f"{topic}/0/7".encode()
        assert headers["error"].startswith(b"undecodable event")
        assert await _count(engine, dead_letters) == 1  # the ops list keeps it
    finally:
        relay.stop()
        await asyncio.wait_for(running, 15)
        await engine.dispose()


async def test_the_dead_letter_row_and_its_outbox_row_commit_together(
    sqlite_url, monkeypatch: pytest.MonkeyPatch
):
    await migrations.upgrade_async(sqlite_url)
    engine = make_engine(sqlite_url)

    async def broken_add(*args, **kwargs):
        raise RuntimeError("the database went away mid-transaction")

    monkeypatch.setattr(dead_letters_adapter.Outbox, "add", broken_add)
    try:
        with pytest.raises(RuntimeError):
            await consumer.EventSink(engine).handle(_record("enrollment.events"))
        # Neither is left: a dead letter is never listed without its message for the DLQ.
        assert await _count(engine, dead_letters) == 0
        assert await _count(engine, outbox) == 0
    finally:
        await engine.dispose()
