"""Enrollment write path: registrations/s through the handlers, against a bare append baseline,
and the relay's publish rate to a real (embedded) broker. SQLite in a temp dir; PostgreSQL too
when 127.0.0.1:5432 answers."""

from __future__ import annotations

import asyncio
import socket
import tempfile
import time
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

from services.enrollment.adapters.relay import OutboxRelay
from services.enrollment.bootstrap import migrate_async, unit_of_work_factory
from services.enrollment.domain.person import Registration
from services.enrollment.domain.state import numbered
from services.enrollment.service_layer.persons import Context, Enrollment, rules_from_directory
from services.enrollment.settings import PREMIUM_RULES_DIR
from shared import tansu
from shared.certno import check_character
from shared.db import make_engine, make_sessionmaker
from shared.events import Registered
from shared.kafka import ensure_topics

N = 400
CONCURRENCY = 8


def _certno(n: int) -> str:
    first17 = f"371502{2000 + n // 1000:04d}0101{n % 1000:03d}"
    return first17 + check_character(first17)


def _payload(n: int) -> Registered:
    return Registered(
        certno=_certno(n),
        name="bench",
        gender="male",
        birth_date=date(2000, 1, 1),
        category="student",
        region="371502",
        organization="bench",
        insurance_year=2024,
        premium_due=Decimal("360"),
    )


async def _gather_limited(jobs, limit: int) -> None:
    semaphore = asyncio.Semaphore(limit)

    async def one(job):
        async with semaphore:
            await job()

    await asyncio.gather(*(one(j) for j in jobs))


async def _run(url: str, label: str) -> None:
    await migrate_async(url)
    engine = make_engine(url)
    sessionmaker = make_sessionmaker(engine)
    uow = unit_of_work_factory(sessionmaker)
    enrollment = Enrollment(uow, Context(rules_for=rules_from_directory(PREMIUM_RULES_DIR)))

    async def bare(n: int) -> None:
        async with uow() as work:
            await work.events.append_many(
                numbered(f"B{n}", 0, [_payload(10_000 + n)], actor="system")
            )
            await work.commit()

    started = time.perf_counter()
    await _gather_limited([lambda n=n: bare(n) for n in range(N)], CONCURRENCY)
    baseline = N / (time.perf_counter() - started)

    async def register(n: int) -> None:
        await enrollment.register(
            Registration(
                certno=_certno(n),
                name="bench",
                category="student",
                region="371502",
                organization="bench",
                insurance_year=2024,
            )
        )

    started = time.perf_counter()
    await _gather_limited([lambda n=n: register(n) for n in range(N)], CONCURRENCY)
    handlers = N / (time.perf_counter() - started)
    print(
        f"   {label}: bare append {baseline:7.0f}/s   register handler {handlers:7.0f}/s"
        f"   ratio {handlers / baseline:.2f}"
    )

    with tansu.running() as bootstrap:
        relay = OutboxRelay(engine, sessionmaker, bootstrap, batch_size=500, poll_interval=0.01)
        producer = relay.producer_factory(bootstrap)
        await ensure_topics(bootstrap, relay.topics)
        await producer.start()
        started = time.perf_counter()
        published = 0
        while batch := await relay.publish_once(producer):
            published += batch
        rate = published / (time.perf_counter() - started)
        await producer.stop()
    print(f"   {label}: relay published {published} events at {rate:7.0f}/s")
    await engine.dispose()


def _pg_url() -> str | None:
    try:
        with socket.create_connection(("127.0.0.1", 5432), 0.5):
            pass
    except OSError:
        return None
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_run(f"sqlite:///{Path(tmp) / 'bench.db'}", "sqlite    "))
    url = _pg_url()
    if url:
        try:
            asyncio.run(_run(url, "postgresql"))
        finally:
            import psycopg

            with psycopg.connect(
                "postgresql://postgres@127.0.0.1:5432/test", autocommit=True
            ) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


if __name__ == "__main__":
    main()
