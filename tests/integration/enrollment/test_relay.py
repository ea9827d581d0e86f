"""The outbox relay against a real broker: order, late commits, crashes and broker outages."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import func, select

from services.enrollment import metrics
from services.enrollment.adapters.relay import OutboxRelay
from services.enrollment.adapters.tables import outbox, relay_position
from services.enrollment.bootstrap import migrate_async, unit_of_work_factory
from services.enrollment.domain.state import numbered
from shared import tansu
from shared.db import make_engine, make_sessionmaker
from shared.events import Event, Identity, IdentityChanged, Registered

pytestmark = pytest.mark.integration


def registered(n: int) -> Registered:
    return Registered(
        certno=f"CERT{n:014d}",
        name=f"person {n}",
        gender="male",
        birth_date=date(2010, 1, 1),
        category="student",
        region="371502",
        organization="一中",
        insurance_year=2024,
        premium_due=Decimal("360"),
    )


def changed(n: int) -> IdentityChanged:
    return IdentityChanged(
        identity=Identity.ORPHAN,
        medical_assistance=bool(n % 2),
        effective_from=date(2024, 1, 1),
        reason=f"step {n}",
    )


async def append(sessionmaker, topic: str, psn_no: str, version: int, payload) -> Event:
    async with unit_of_work_factory(sessionmaker, topic=topic)() as work:
        [event] = numbered(psn_no, version, [payload], actor="system")
        await work.events.append_many([event])
        await work.commit()
    return event


async def consume(bootstrap: str, topic: str, want: int, timeout: float = 20.0):
    """Read at least ``want`` records from the start of a topic (no consumer group)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    records = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(records) < want and asyncio.get_running_loop().time() < deadline:
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(batch)
        # a little longer, to see duplicates that are on their way
        for batch in (await consumer.getmany(timeout_ms=300)).values():
            records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def outbox_size(sessionmaker) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(outbox)))


async def wait_drained(sessionmaker, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while await outbox_size(sessionmaker):
        assert asyncio.get_running_loop().time() < deadline, "outbox not drained in time"
        await asyncio.sleep(0.05)


@pytest.fixture
async def database(db_url):
    await migrate_async(db_url)
    engine = make_engine(db_url)
    yield engine, make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def topic() -> str:
    return f"test.relay.{uuid.uuid4().hex[:8]}"


def make_relay(engine, sessionmaker, bootstrap, topic, **kwargs) -> OutboxRelay:
    kwargs.setdefault("poll_interval", 0.02)
    kwargs.setdefault("retry_backoff", 0.3)
    return OutboxRelay(engine, sessionmaker, bootstrap, topics=[topic], **kwargs)


async def stop(relay: OutboxRelay, task: asyncio.Task) -> None:
    relay.stop()
    await asyncio.wait_for(task, 15)


async def test_publishes_every_event_keyed_by_person_in_stream_order(
    database, kafka_bootstrap, topic
):
    engine, sessionmaker = database
    people = [f"P{n}" for n in range(4)]
    for n, psn_no in enumerate(people):
        await append(sessionmaker, topic, psn_no, 0, registered(n))
    for step in range(1, 5):  # interleave the people's streams
        for psn_no in people:
            await append(sessionmaker, topic, psn_no, step, changed(step))

    published_before = metrics.EVENTS_PUBLISHED._value.get()
    relay = make_relay(engine, sessionmaker, kafka_bootstrap, topic, batch_size=7)
    task = asyncio.create_task(relay.run())
    await wait_drained(sessionmaker)
    await asyncio.sleep(0.1)  # one more (empty) poll sets the lag gauges
    await stop(relay, task)
    assert metrics.EVENTS_PUBLISHED._value.get() - published_before == 20
    assert metrics.RELAY_LAG_MESSAGES._value.get() == 0

    records = await consume(kafka_bootstrap, topic, want=20)
    versions = defaultdict(list)
    for record in records:
        event = Event.from_json(record.value)
        assert record.key.decode() == event.psn_no
        versions[event.psn_no].append(event.stream_version)
    assert dict(versions) == {p: [1, 2, 3, 4, 5] for p in people}
    async with sessionmaker() as session:
        row = (await session.execute(select(relay_position))).one()
    assert row.published_count == 20
    assert row.last_event_position >= 20


async def test_a_transaction_committing_after_a_later_position_is_not_skipped(
    pg_url, kafka_bootstrap, topic
):
    """Txn A takes the lower outbox id and commits after txn B: both reach the topic."""
    await migrate_async(pg_url)
    engine = make_engine(pg_url)
    sessionmaker = make_sessionmaker(engine)
    relay = make_relay(engine, sessionmaker, kafka_bootstrap, topic)
    producer = relay.producer_factory(kafka_bootstrap)
    await producer.start()
    try:
        async with unit_of_work_factory(sessionmaker, topic=topic)() as txn_a:
            [event_a] = numbered("PA", 0, [registered(1)], actor="system")
            await txn_a.events.append_many([event_a])
            event_b = await append(sessionmaker, topic, "PB", 0, registered(2))  # commits first
            async with sessionmaker() as session:
                ids = (await session.execute(select(outbox.c.id, outbox.c.key))).all()
            assert [k for _, k in ids] == ["PB"]  # A's row is invisible: not committed yet

            assert await relay.publish_once(producer) == 1  # publishes B, past A's position
            await txn_a.commit()
        async with sessionmaker() as session:
            [(late_id, key)] = (await session.execute(select(outbox.c.id, outbox.c.key))).all()
        assert key == "PA" and late_id < ids[0][0]  # the late row has the LOWER id
        assert await relay.publish_once(producer) == 1
        assert await outbox_size(sessionmaker) == 0
    finally:
        await producer.stop()
        await engine.dispose()

    records = await consume(kafka_bootstrap, topic, want=2)
    ids_seen = {Event.from_json(r.value).event_id for r in records}
    assert ids_seen == {event_a.event_id, event_b.event_id}


async def test_a_crash_between_publish_and_delete_republishes_and_loses_nothing(
    database, kafka_bootstrap, topic
):
    engine, sessionmaker = database
    appended = [await append(sessionmaker, topic, f"P{n}", 0, registered(n)) for n in range(6)]

    async def crash(batch):
        raise asyncio.CancelledError  # the process dies after the acks, before the delete

    crashing = make_relay(engine, sessionmaker, kafka_bootstrap, topic, after_publish=crash)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(crashing.run(), 20)
    assert await outbox_size(sessionmaker) == 6  # nothing acknowledged in the database

    more = [await append(sessionmaker, topic, f"Q{n}", 0, registered(10 + n)) for n in range(3)]
    relay = make_relay(engine, sessionmaker, kafka_bootstrap, topic)
    task = asyncio.create_task(relay.run())
    await wait_drained(sessionmaker)
    await stop(relay, task)

    records = await consume(kafka_bootstrap, topic, want=15)
    seen = [Event.from_json(r.value).event_id for r in records]
    assert set(seen) == {e.event_id for e in appended + more}
    assert len(seen) == 15  # the first six twice (at least once), the rest once
    for event in appended:
        assert seen.count(event.event_id) == 2


async def test_survives_the_broker_going_away_and_coming_back(sqlite_url, topic):
    await migrate_async(sqlite_url)
    engine = make_engine(sqlite_url)
    sessionmaker = make_sessionmaker(engine)
    port = tansu.free_port()
    bootstrap = f"127.0.0.1:{port}"
    broker = tansu.start(port)
    relay = make_relay(engine, sessionmaker, bootstrap, topic, retry_backoff=0.2)
    task = asyncio.create_task(relay.run())
    try:
        await append(sessionmaker, topic, "P0", 0, registered(0))
        await wait_drained(sessionmaker)

        broker.kill()
        broker.wait()
        during = [await append(sessionmaker, topic, f"P{n}", 0, registered(n)) for n in (1, 2, 3)]
        deadline = asyncio.get_running_loop().time() + 20
        while relay.last_error is None:  # the send fails after the relay's request timeout
            assert asyncio.get_running_loop().time() < deadline, "relay never noticed"
            await asyncio.sleep(0.1)
        assert not relay.connected
        assert await outbox_size(sessionmaker) == 3  # kept until a broker acknowledges

        broker = tansu.start(port)  # an empty broker (Tansu keeps topics in memory)
        await wait_drained(sessionmaker, timeout=45)
        records = await consume(bootstrap, topic, want=3)
        assert {Event.from_json(r.value).event_id for r in records} >= {e.event_id for e in during}
        assert not task.done()
    finally:
        relay.stop()
        await asyncio.wait_for(task, 20)
        broker.terminate()
        broker.wait()
        await engine.dispose()


async def test_only_one_relay_publishes_at_a_time_on_postgresql(pg_url, kafka_bootstrap, topic):
    """Two relays on one PostgreSQL database: the advisory lock keeps the second one idle."""
    await migrate_async(pg_url)
    engine = make_engine(pg_url)
    sessionmaker = make_sessionmaker(engine)
    first = make_relay(engine, sessionmaker, kafka_bootstrap, topic)
    second = make_relay(engine, sessionmaker, kafka_bootstrap, topic)
    tasks = [asyncio.create_task(first.run())]
    try:
        while not first.connected:
            await asyncio.sleep(0.05)
        tasks.append(asyncio.create_task(second.run()))
        await asyncio.sleep(0.3)
        appended = [await append(sessionmaker, topic, f"P{n}", 0, registered(n)) for n in range(10)]
        await wait_drained(sessionmaker)
        assert not second.connected  # still waiting for the lock
    finally:
        first.stop()
        second.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 15)
        await engine.dispose()
    records = await consume(kafka_bootstrap, topic, want=10)
    assert sorted(str(Event.from_json(r.value).event_id) for r in records) == sorted(
        str(e.event_id) for e in appended
    )
