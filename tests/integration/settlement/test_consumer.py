"""The enrollment.events consumer against a real broker: duplicates, gaps, poison, rebuild."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from services.settlement import migrations
from services.settlement.adapters import coverage_store
from services.settlement.adapters.tables import dead_letters, pending_events
from services.settlement.entrypoints import consumer
from services.settlement.service_layer import rebuild
from shared.db import make_engine
from shared.events import Identity, dlq
from shared.kafka import ensure_topics, make_producer
from tests.integration.settlement.conftest import dlq_records
from tests.support.sample_events import Stream

pytestmark = pytest.mark.integration


async def _until(predicate, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.2)


async def _dlq_values(bootstrap: str, topic: str, want: int) -> list[bytes]:
    return [r.value for r in await dlq_records(bootstrap, topic, want)]


async def test_duplicates_gaps_poison_and_rebuild(kafka_bootstrap, sqlite_url):
    topic = f"enrollment.events.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, [topic, dlq(topic)])
    await migrations.upgrade_async(sqlite_url)
    engine = make_engine(sqlite_url)
    producer = make_producer(kafka_bootstrap)
    await producer.start()
    stop = asyncio.Event()
    task = asyncio.create_task(
        consumer.run(engine, kafka_bootstrap, topic=topic, group=f"g-{topic}", stop=stop)
    )

    async def send(event_or_bytes, key: str) -> None:
        value = event_or_bytes if isinstance(event_or_bytes, bytes) else event_or_bytes.to_json()
        await producer.send_and_wait(topic, value=value, key=key.encode())

    def version(psn_no: str):
        return _version(engine, psn_no)

    try:
        s = Stream()
        registered, paid, died = (
            s.registered(),
            s.paid(),
            s.identity(Identity.ORPHAN, date(2024, 2, 1)),
        )
        await send(registered, s.psn_no)
        await send(registered, s.psn_no)  # delivered twice
        await send(died, s.psn_no)  # v3 before v2: a gap
        await send(b"{not json", s.psn_no)  # poison
        await send(b'{"event_type": "no-such-type", "payload": {}}', s.psn_no)
        other = Stream()
        await send(other.registered(seq=7), other.psn_no)  # the consumer went on
        await _until(lambda: _is(version(other.psn_no), 1))

        assert await version(s.psn_no) == 1  # v3 waits for v2
        await _check_parked_and_poison(engine, kafka_bootstrap, topic)

        await send(paid, s.psn_no)  # the missing v2 arrives: v2 and v3 are applied
        await _until(lambda: _is(version(s.psn_no), 3))
        async with engine.connect() as conn:
            state = await coverage_store.load(conn, s.psn_no)
            assert await coverage_store.gaps_waiting(conn) == 0
        assert state.years[2024].paid_up and state.identities[-1].identity == "orphan"

        stop.set()
        await task
        await _check_rebuild_matches(engine, kafka_bootstrap, topic)
    finally:
        stop.set()
        if not task.done():
            task.cancel()
        await producer.stop()
        await engine.dispose()


async def _version(engine, psn_no: str) -> int:
    async with engine.connect() as conn:
        state = await coverage_store.load(conn, psn_no)
    return state.version if state else 0


async def _check_parked_and_poison(engine, kafka_bootstrap: str, topic: str) -> None:
    """v3 parked behind the missing v2; both poison messages stored and on the DLQ topic."""
    async with engine.connect() as conn:
        parked = (await conn.execute(select(pending_events.c.stream_version))).scalars().all()
        poison = (await conn.execute(select(dead_letters.c.error))).scalars().all()
    assert parked == [3]
    assert REGISTRY.get_sample_value("settlement_consumer_gaps_waiting") == 1
    assert len(poison) == 2
    assert sorted(await _dlq_values(kafka_bootstrap, topic, want=2)) == sorted(
        [b"{not json", b'{"event_type": "no-such-type", "payload": {}}']
    )


async def _check_rebuild_matches(engine, kafka_bootstrap: str, topic: str) -> None:
    """A rebuild from the topic gives the same snapshot, the poison and the duplicate counted."""
    async with engine.connect() as conn:
        before = await coverage_store.snapshot(conn)
    counts = await rebuild.rebuild(engine, bootstrap=kafka_bootstrap, topic=topic)
    async with engine.connect() as conn:
        after = await coverage_store.snapshot(conn)
    assert after == before
    assert counts["dead_lettered"] == 2 and counts["duplicate"] == 1


async def _is(value, expected) -> bool:
    return (await value) == expected


def test_rebuild_from_a_replay_file_matches(tmp_path, sqlite_url):
    s = Stream()
    events = [s.registered(), s.paid(), s.died(date(2024, 5, 1), date(2024, 6, 1))]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(e.to_json() for e in [events[0], events[2], events[1], events[0]]))

    async def main():
        await migrations.upgrade_async(sqlite_url)
        engine = make_engine(sqlite_url)
        try:
            counts = await rebuild.rebuild(engine, topic="unused", replay_file=path)
            async with engine.connect() as conn:
                snap = await coverage_store.snapshot(conn)
            return counts, snap
        finally:
            await engine.dispose()

    counts, snap = asyncio.run(main())
    assert counts == {"applied": 2, "duplicate": 1, "parked": 1, "dead_lettered": 0}
    version, state = snap[s.psn_no]
    assert version == 3 and json.loads(state)["death"]["settlement_deadline"] == "2024-06-01"


async def test_an_event_the_database_refuses_is_dead_lettered(kafka_bootstrap, pg_url):
    topic = f"enrollment.events.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, [topic, dlq(topic)], partitions=1)
    await migrations.upgrade_async(pg_url)
    engine = make_engine(pg_url)
    producer = make_producer(kafka_bootstrap)
    await producer.start()
    stop = asyncio.Event()
    task = asyncio.create_task(
        consumer.run(engine, kafka_bootstrap, topic=topic, group=f"g-{topic}", stop=stop)
    )
    try:
        bad, good = Stream(), Stream()
        too_long = bad.registered().model_copy(
            update={"payload": bad.registered().payload.model_copy(update={"certno": "9" * 40})}
        )
        for event in (too_long, good.registered()):
            await producer.send_and_wait(topic, value=event.to_json(), key=event.psn_no.encode())

        async def good_applied() -> bool:
            async with engine.connect() as conn:
                return await coverage_store.load(conn, good.psn_no) is not None

        await _until(good_applied, timeout=60)
        async with engine.connect() as conn:
            errors = (await conn.execute(select(dead_letters.c.error))).scalars().all()
            assert await coverage_store.load(conn, bad.psn_no) is None
        assert len(errors) == 1 and "refuses" in errors[0]
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await producer.stop()
        await engine.dispose()
