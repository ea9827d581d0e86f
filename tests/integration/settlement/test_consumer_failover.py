"""Two `settlement consume` processes share the partitions; killing one loses nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import date

import pytest
from sqlalchemy import func, select

from services.settlement import migrations
from services.settlement.adapters.tables import coverage_persons, processed_events
from shared.db import make_engine
from shared.events import Identity, dlq
from shared.kafka import ensure_topics, make_producer
from tests.support.sample_events import Stream

pytestmark = pytest.mark.integration

PERSONS = 30


def _consumer(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from services.settlement.entrypoints.cli import main; main()",
            "consume",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _counts(engine) -> tuple[int, int, int]:
    async with engine.connect() as conn:
        persons = (await conn.execute(select(func.count()).select_from(coverage_persons))).scalar()
        versions = (
            await conn.execute(select(func.coalesce(func.sum(coverage_persons.c.last_version), 0)))
        ).scalar()
        tracked = (await conn.execute(select(func.count()).select_from(processed_events))).scalar()
    return int(persons), int(versions), int(tracked)


async def _until(engine, expected: tuple[int, int, int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (got := await _counts(engine)) != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {expected}, have {got}")
        await asyncio.sleep(0.3)


async def test_killing_one_consumer_hands_its_partitions_to_the_other(kafka_bootstrap, pg_url):
    topic = f"enrollment.events.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, [topic, dlq(topic)], partitions=4)
    await migrations.upgrade_async(pg_url)
    env = {
        **os.environ,
        "SETTLEMENT_DATABASE_URL": pg_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SETTLEMENT_EVENTS_TOPIC": topic,
        "SETTLEMENT_CONSUMER_GROUP": f"settlement-{topic}",
    }
    first, second = _consumer(env), _consumer(env)
    engine = make_engine(pg_url)
    producer = make_producer(kafka_bootstrap)
    await producer.start()
    streams = [Stream() for _ in range(PERSONS)]
    try:

        async def publish(make) -> None:
            for s in streams:
                await producer.send(topic, value=make(s).to_json(), key=s.psn_no.encode())
            await producer.flush()

        await publish(lambda s: s.registered())
        await publish(lambda s: s.paid())
        await _until(engine, (PERSONS, 2 * PERSONS, 2 * PERSONS), timeout=120)

        first.send_signal(signal.SIGKILL)  # no goodbye: its partitions move after the session
        first.wait(10)
        await publish(lambda s: s.identity(Identity.ORPHAN, date(2024, 3, 1)))
        await _until(engine, (PERSONS, 3 * PERSONS, 3 * PERSONS), timeout=120)
        assert second.poll() is None
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        await producer.stop()
        await engine.dispose()
