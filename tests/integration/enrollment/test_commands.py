"""The console commands as processes: ``enrollment migrate`` and the standalone ``relay``."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import func, select

from services.enrollment.adapters.tables import events, outbox
from services.enrollment.bootstrap import unit_of_work_factory
from services.enrollment.domain.state import numbered
from shared.db import make_engine, make_sessionmaker
from shared.events import TOPIC_ENROLLMENT_EVENTS, Event

from .test_relay import registered

pytestmark = pytest.mark.integration

ENROLLMENT = Path(sys.executable).parent / "enrollment"


def run_env(url: str, bootstrap: str = "127.0.0.1:1") -> dict[str, str]:
    return {**os.environ, "ENROLLMENT_DATABASE_URL": url, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}


async def test_migrate_then_a_standalone_relay_publishes_the_backlog(tmp_path, kafka_bootstrap):
    url = f"sqlite:///{tmp_path / 'nested' / 'enrollment.db'}"
    done = subprocess.run(
        [str(ENROLLMENT), "migrate"], env=run_env(url), capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()
    assert (tmp_path / "nested" / "enrollment.db").exists()  # the directory is created

    engine = make_engine(url)
    sessionmaker = make_sessionmaker(engine)
    async with unit_of_work_factory(sessionmaker)() as work:
        [event] = numbered(f"PCMD{os.getpid()}", 0, [registered(1)], actor="system")
        await work.events.append_many([event])
        await work.commit()

    relay = subprocess.Popen(
        [str(ENROLLMENT), "relay"],
        env=run_env(url, kafka_bootstrap),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            async with sessionmaker() as session:
                if not await session.scalar(select(func.count()).select_from(outbox)):
                    break
            assert relay.poll() is None, relay.stderr.read().decode()
            assert asyncio.get_running_loop().time() < deadline, "relay did not drain the outbox"
            await asyncio.sleep(0.1)
        relay.send_signal(signal.SIGTERM)
        assert relay.wait(20) == 0  # a clean stop on SIGTERM
    finally:
        if relay.poll() is None:
            relay.kill()
        async with sessionmaker() as session:
            assert await session.scalar(select(func.count()).select_from(events)) == 1
        await engine.dispose()

    consumer = AIOKafkaConsumer(
        TOPIC_ENROLLMENT_EVENTS,
        bootstrap_servers=kafka_bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        found = False
        deadline = asyncio.get_running_loop().time() + 15
        while not found and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                found = found or any(Event.from_json(r.value) == event for r in records)
    finally:
        await consumer.stop()
    assert found
