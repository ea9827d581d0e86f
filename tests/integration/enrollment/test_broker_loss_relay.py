"""The relay notices a broker that lost what it had acknowledged, and republishes the event store:
an empty broker in place of the old one, a log cut short under an acknowledgement; and a whole
broker raises no false alarm (Tansu's ListOffsets answer falls short of the end of its log)."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

import pytest
from sqlalchemy import func, select

from services.enrollment import metrics
from services.enrollment.adapters.recovery_tables import relay_offsets, republish_jobs
from services.enrollment.bootstrap import migrate_async
from shared import tansu
from shared.db import make_engine, make_sessionmaker
from shared.events import Event
from tests.integration.enrollment.test_relay import (
    append,
    changed,
    consume,
    make_relay,
    registered,
    stop,
    wait_drained,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def topic() -> str:
    return f"test.loss.{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def database(db_url):
    await migrate_async(db_url)
    engine = make_engine(db_url)
    yield engine, make_sessionmaker(engine)
    await engine.dispose()


def losses() -> float:
    return metrics.BROKER_LOSSES._value.get()


async def until(predicate, timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.1)


async def stored_ends(engine, topic: str) -> int:
    async with engine.connect() as conn:
        return int(
            await conn.scalar(
                select(func.coalesce(func.sum(relay_offsets.c.next_offset), 0)).where(
                    relay_offsets.c.topic == topic
                )
            )
        )


async def test_an_emptied_broker_gets_the_whole_store_again(database, topic):
    engine, sessionmaker = database
    port = tansu.free_port()
    bootstrap = f"127.0.0.1:{port}"
    broker = tansu.start(port)
    relay = make_relay(
        engine, sessionmaker, bootstrap, topic, retry_backoff=0.2, offset_check_interval=0.3
    )
    task = asyncio.create_task(relay.run())
    try:
        written = []
        for n in range(5):
            written.append(await append(sessionmaker, topic, f"P{n}", 0, registered(n)))
        for n in range(5):  # the second events go out in multi-record batches
            written.append(await append(sessionmaker, topic, f"P{n}", 1, changed(1)))
        await wait_drained(sessionmaker)
        assert await stored_ends(engine, topic) == 10
        before = losses()
        await asyncio.sleep(1.0)  # a few probes of a whole log: no alarm
        assert losses() == before

        broker.kill()
        broker.wait()
        broker = tansu.start(port)  # empty: Tansu keeps its log in memory

        async def recovered() -> bool:
            async with engine.connect() as conn:
                open_jobs = await conn.scalar(
                    select(func.count())
                    .select_from(republish_jobs)
                    .where(republish_jobs.c.finished_at.is_(None))
                )
            return losses() > before and not open_jobs and await stored_ends(engine, topic) >= 10

        await until(recovered, 45, "the relay did not republish after the broker lost its log")
        await wait_drained(sessionmaker)
        assert losses() == before + 1
        records = await consume(bootstrap, topic, want=10)
        versions = defaultdict(list)
        for record in records:
            event = Event.from_json(record.value)
            versions[event.psn_no].append(event.stream_version)
        assert dict(versions) == {f"P{n}": [1, 2] for n in range(5)}  # all, once, in order
        assert not task.done()
    finally:
        await stop(relay, task)
        broker.terminate()
        broker.wait()


async def test_an_acknowledgement_below_the_stored_offset_is_a_loss(database, topic):
    engine, sessionmaker = database
    await append(sessionmaker, topic, "P1", 0, registered(1))
    relay = make_relay(engine, sessionmaker, "127.0.0.1:9", topic)
    watch = relay.watch
    before = losses()
    async with engine.begin() as conn:
        await watch.record(conn, {(topic, 0): range(0, 40)})
    async with engine.begin() as conn:
        await watch.record(conn, {(topic, 0): range(40, 41)})  # the log grew: fine
    assert losses() == before
    async with engine.begin() as conn:
        await watch.record(conn, {(topic, 0): range(0, 3)})  # a new log: offsets from 0 again
    assert losses() == before + 1
    assert await stored_ends(engine, topic) == 3
    stale = make_relay(engine, sessionmaker, "127.0.0.1:9", topic).watch  # never loaded the ends
    async with engine.begin() as conn:
        await stale.record(conn, {(topic, 0): range(1, 2)})
    assert await stored_ends(engine, topic) == 3  # a stale relay does not move them back
    async with engine.connect() as conn:
        [job] = (await conn.execute(select(republish_jobs))).all()
    assert (job.topic, job.cause, job.from_position, job.finished_at) == (
        topic,
        "broker_loss",
        1,
        None,
    )
    assert f"{topic}[0] 41->0" in job.detail
