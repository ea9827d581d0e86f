"""Tax payments applied per second on PostgreSQL through the consumer's code path, against a
real (embedded Tansu) broker, beside two baselines measured in the same run:

* the broker alone: the same messages read by a bare consumer that does nothing with them;
* the database alone: the same payment rows inserted with a bare executemany, 500 a transaction.

It then applies the same number of payments with two consumer processes of one group sharing the
topic's partitions, which is how the feed scales past one Python process.

Each payment applied means: JSON parsed and validated, the person found and folded, a
``premium-paid`` event appended with its outbox row, the ``payments`` row (unique tax_serial)
inserted — one transaction per polled batch — then the Kafka offsets committed.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer
from sqlalchemy import Column, MetaData, Numeric, String, Table, func, insert, select

from bench.import_list import PG_ADMIN_DSN, _drop, _pg_database, certno, school_list
from services.enrollment.adapters.tables import payments
from services.enrollment.bootstrap import migrate_async, unit_of_work_factory
from services.enrollment.domain.school_lists import parse_list
from services.enrollment.entrypoints.payment_consumer import PaymentConsumer
from services.enrollment.service_layer.school_lists import import_rows
from services.enrollment.settings import PREMIUM_RULES_DIR
from shared import tansu
from shared.db import make_engine, make_sessionmaker
from shared.kafka import ensure_topics, make_producer

PAYMENTS = int(os.environ.get("BENCH_PAYMENTS", "50000"))
BATCH = int(os.environ.get("BENCH_PAYMENT_BATCH", "1000"))


def message(n: int) -> bytes:
    return (
        f'{{"tax_serial":"T{n:09d}","certno":"{certno(n)}","insurance_year":2025,'
        f'"amount":"360.00","payer":"individual","channel":"wechat",'
        f'"paid_at":"2024-10-0{1 + n % 9}T10:00:00+08:00"}}'
    ).encode()


async def produce(bootstrap: str, topic: str) -> None:
    producer = make_producer(bootstrap, linger_ms=20, max_batch_size=1 << 20)
    await producer.start()
    try:
        pending = []
        for n in range(PAYMENTS):
            pending.append(await producer.send(topic, message(n), key=certno(n).encode()))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def broker_only(bootstrap: str, topic: str) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-bare-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        seen, started = 0, None
        while seen < PAYMENTS:
            batches = await consumer.getmany(timeout_ms=500, max_records=BATCH)
            got = sum(len(v) for v in batches.values())
            if got and started is None:
                started = time.perf_counter()
            seen += got
        assert started is not None
        return time.perf_counter() - started
    finally:
        await consumer.stop()


async def database_only(url: str) -> float:
    meta = MetaData()
    table = Table(
        "bench_payments",
        meta,
        Column("tax_serial", String(64), primary_key=True),
        Column("certno", String(18)),
        Column("amount", Numeric(14, 2)),
    )
    rows = [
        {"tax_serial": f"T{n:09d}", "certno": certno(n), "amount": 360} for n in range(PAYMENTS)
    ]
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(meta.create_all)
        started = time.perf_counter()
        for start in range(0, PAYMENTS, 500):
            async with engine.begin() as conn:
                await conn.execute(insert(table), rows[start : start + 500])
        return time.perf_counter() - started
    finally:
        await engine.dispose()


async def through_consumer(url: str, bootstrap: str, topic: str) -> float:
    engine = make_engine(url)
    sessionmaker = make_sessionmaker(engine)
    consumer = PaymentConsumer(
        unit_of_work_factory(sessionmaker),
        bootstrap,
        topic=topic,
        group_id=f"bench-{uuid.uuid4().hex[:6]}",
        batch_size=BATCH,
    )
    task = asyncio.create_task(consumer.run())
    try:
        while consumer.totals.applied == 0:  # noqa: ASYNC110 — polling a counter, on purpose
            await asyncio.sleep(0.01)
        started = time.perf_counter()
        first = consumer.totals.applied  # the first batch landed: time the rest
        while consumer.totals.applied < PAYMENTS:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        assert consumer.totals.unmatched == 0, consumer.totals.reasons
        return elapsed * PAYMENTS / (PAYMENTS - first)
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 30)
        await engine.dispose()


def _consumer_process(url: str, bootstrap: str, topic: str, group: str) -> None:
    """One more `enrollment consume-payments`-like process of the same consumer group."""

    async def go() -> None:
        engine = make_engine(url)
        consumer = PaymentConsumer(
            unit_of_work_factory(make_sessionmaker(engine)),
            bootstrap,
            topic=topic,
            group_id=group,
            batch_size=BATCH,
        )
        await consumer.run()

    asyncio.run(go())


async def scaled_out(url: str, bootstrap: str, topic: str, processes: int) -> float:
    """Seconds to apply PAYMENTS with ``processes`` consumers sharing the topic's partitions.

    Timed from the first payment applied to the last, counting ``payments`` rows, so the
    group's start-up (joins and rebalances) before any work is not charged to the rate.
    """
    group = f"bench-{uuid.uuid4().hex[:6]}"
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_consumer_process, args=(url, bootstrap, topic, group))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    engine = make_engine(url)
    try:

        async def applied() -> int:
            async with engine.connect() as conn:
                return int(
                    (await conn.execute(select(func.count()).select_from(payments))).scalar_one()
                )

        while (first := await applied()) == 0:  # noqa: ASYNC110 — polling a count, on purpose
            await asyncio.sleep(0.01)
        started = time.perf_counter()
        while (done := await applied()) < PAYMENTS:
            if not all(worker.is_alive() for worker in workers):
                raise RuntimeError("a consumer process died")
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - started
        return elapsed * PAYMENTS / (done - first)
    finally:
        for worker in workers:
            worker.terminate()
            worker.join(10)
        await engine.dispose()


async def registered(url: str) -> None:
    """Migrate ``url`` and register the PAYMENTS persons the messages pay for."""
    await migrate_async(url)
    engine = make_engine(url)
    await import_rows(
        unit_of_work_factory(make_sessionmaker(engine)),
        parse_list(school_list(PAYMENTS)),
        2025,
        PREMIUM_RULES_DIR,
        now=datetime(2024, 9, 1, tzinfo=UTC),
    )
    await engine.dispose()


async def run(app_url: str, base_url: str) -> None:
    await registered(app_url)
    with tansu.running() as bootstrap:
        topic = f"tax.premium-payments.bench.{uuid.uuid4().hex[:6]}"
        await ensure_topics(bootstrap, [topic])
        await produce(bootstrap, topic)
        bare_broker = await broker_only(bootstrap, topic)
        applied = await through_consumer(app_url, bootstrap, topic)
        # The same payments again, into a second copy of the registrations, by two consumer
        # processes of one group (how the feed scales: one consumer per partition at most).
        second = _pg_database()
        assert second is not None
        try:
            await registered(second[1])
            topic2 = f"tax.premium-payments.bench.{uuid.uuid4().hex[:6]}"
            await ensure_topics(bootstrap, [topic2])
            await produce(bootstrap, topic2)
            two = await scaled_out(second[1], bootstrap, topic2, 2)
        finally:
            _drop(second[0])
    bare_db = await database_only(base_url)
    rate = PAYMENTS / applied
    print(
        f"   PostgreSQL: {PAYMENTS:,} payments applied in {applied:5.1f}s = {rate:8,.0f}/s"
        f" (batch {BATCH}) | target 5,000/s: {'OK' if rate >= 5000 else 'MISS'}"
    )
    print(
        f"   two consumer processes (one group): {PAYMENTS / two:8,.0f}/s"
        f" | target 5,000/s: {'OK' if PAYMENTS / two >= 5000 else 'MISS'}"
    )
    print(
        f"   baselines : broker read alone {PAYMENTS / bare_broker:8,.0f}/s"
        f" (consumer/broker {bare_broker / applied:4.2f})"
        f" | bare executemany {PAYMENTS / bare_db:8,.0f}/s (consumer/bare {bare_db / applied:4.2f})"
    )


def main() -> None:
    databases = [_pg_database(), _pg_database()]
    if not all(databases):
        print(f"   needs PostgreSQL at {PG_ADMIN_DSN}; skipped")
        return
    try:
        asyncio.run(run(databases[0][1], databases[1][1]))  # type: ignore[index]
    finally:
        for db in databases:
            if db:
                _drop(db[0])


if __name__ == "__main__":
    main()
