"""SIGKILL the consumer in the middle of a stream, start it again: every payment applied once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from services.enrollment.adapters.tables import events, payments
from services.enrollment.bootstrap import migrate_async
from services.enrollment.bootstrap import unit_of_work_factory as uow_for
from services.enrollment.domain.school_lists import parse_list
from services.enrollment.service_layer.school_lists import ImportBy, import_rows
from services.enrollment.settings import PREMIUM_RULES_DIR
from shared.db import make_engine, make_sessionmaker
from shared.kafka import ensure_topics

from .feed_helpers import produce, wait_for
from .people import unique_certno
from .test_payment_feed import payment

pytestmark = pytest.mark.integration

PEOPLE = 100
PAYMENTS_EACH = 10
ROOT = Path(__file__).resolve().parents[3]


def _start(url: str, bootstrap: str, topic: str, group: str) -> subprocess.Popen[bytes]:
    script = str(Path(__file__).with_name("consumer_proc.py"))
    return subprocess.Popen(
        [sys.executable, script, url, bootstrap, topic, group, "25"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture
async def pg_migrated(pg_url: str) -> str:
    """PostgreSQL only: the production database, and one broker group join pair fewer."""
    await migrate_async(pg_url)
    return pg_url


async def test_a_killed_consumer_restarts_and_applies_every_payment_exactly_once(
    pg_migrated, kafka_bootstrap
):
    migrated_url = pg_migrated
    run = uuid.uuid4().hex[:8]
    topic, group = f"tax.premium-payments.crash.{run}", f"enrollment-crash-{run}"
    engine = make_engine(migrated_url)
    sessionmaker = make_sessionmaker(engine)
    text = "certno,name,category,organization,region,identity\n" + "".join(
        f"{unique_certno(n)},学生{n},student,一中,110105,\n" for n in range(PEOPLE)
    )
    await import_rows(
        uow_for(sessionmaker),
        parse_list(text.encode()),
        2024,
        PREMIUM_RULES_DIR,
        by=ImportBy.system(),
        now=datetime(2024, 3, 1, tzinfo=UTC),
    )
    stream = [
        payment(f"{run}-{n}-{k}", n, amount="36.00")
        for k in range(PAYMENTS_EACH)
        for n in range(PEOPLE)
    ]
    total = len(stream)
    await ensure_topics(kafka_bootstrap, [topic])
    await produce(kafka_bootstrap, topic, stream)

    async def applied() -> int:
        async with sessionmaker() as session:
            return (await session.execute(select(func.count()).select_from(payments))).scalar_one()

    proc = _start(migrated_url, kafka_bootstrap, topic, group)
    try:
        await wait_for(lambda: _at_least(applied, total // 4), 60)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        killed_at = await applied()
        assert killed_at < total, "the consumer finished before it could be killed"
        # the feed keeps going while it is down, redelivering some of what it already sent
        await produce(kafka_bootstrap, topic, stream[:100])
        proc = _start(migrated_url, kafka_bootstrap, topic, group)
        await wait_for(lambda: _at_least(applied, total), 90)
    finally:
        proc.kill()
        proc.wait(10)

    async with sessionmaker() as session:
        per_serial = (
            await session.execute(
                select(func.count(), func.count(func.distinct(events.c.payload))).where(
                    events.c.event_type == "premium-paid"
                )
            )
        ).one()
    await engine.dispose()
    assert tuple(per_serial) == (total, total)  # one premium-paid event per tax_serial
    assert killed_at > 0


async def _at_least(count, n: int) -> bool:
    return await count() >= n
