"""The event store on SQLite and PostgreSQL: append-only streams, one event per version."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError

from services.enrollment.adapters.recorders import ConcurrencyConflict
from services.enrollment.adapters.tables import events, outbox, registrations
from services.enrollment.bootstrap import unit_of_work_factory
from services.enrollment.domain.state import numbered
from services.enrollment.service_layer import unit_of_work
from shared.events import Event, Identity, IdentityChanged, Registered

pytestmark = pytest.mark.integration

CERTNO = "11010519491231002X"


def registered(year: int = 2024, certno: str = CERTNO) -> Registered:
    return Registered(
        certno=certno,
        name="王芳",
        gender="female",
        birth_date=date(1949, 12, 31),
        category="resident",
        region="110105",
        organization="朝阳街道",
        insurance_year=year,
        premium_due=Decimal("400"),
    )


@pytest.fixture
def uow(sessionmaker) -> unit_of_work.UnitOfWorkFactory:
    return unit_of_work_factory(sessionmaker)


async def append(uow, psn_no: str, version: int, payloads) -> list[Event]:
    """Append payloads after ``version`` in a unit of work of their own, and commit."""
    async with uow() as work:
        new = numbered(psn_no, version, payloads, actor="system")
        await work.events.append_many(new)
        await work.commit()
    return new


def identity(n: int) -> IdentityChanged:
    return IdentityChanged(
        identity=Identity.SUBSISTENCE,
        medical_assistance=bool(n % 2),
        effective_from=date(2024, 1, 1),
        reason=f"change {n}",
    )


async def test_append_then_load_round_trips_with_outbox_rows(uow):
    appended = await append(uow, "P1", 0, [registered(), identity(1)])
    async with uow() as work:
        store, session = work.events, work.session
        loaded = await store.load("P1")
        assert loaded == appended
        assert [e.stream_version for e in loaded] == [1, 2]
        assert loaded[0].occurred_at.tzinfo is not None
        assert await store.version("P1") == 2
        assert await store.version("nobody") == 0
        assert await store.find_psn_no(CERTNO) == "P1"
        rows = (await session.execute(select(outbox).order_by(outbox.c.id))).all()
        assert [(r.topic, r.key) for r in rows] == [("enrollment.events", "P1")] * 2
        assert Event.from_json(rows[1].value) == appended[1]
        positions = [p for p, _ in await store.read_all(0)]
        assert positions == sorted(positions) and len(positions) == 2


async def test_stale_expected_version_is_refused(uow):
    await append(uow, "P1", 0, [registered()])
    with pytest.raises(ConcurrencyConflict):
        await append(uow, "P1", 0, [identity(1)])
    async with uow() as work:
        assert len(await work.events.load("P1")) == 1


async def test_same_year_twice_is_refused_by_the_database(sessionmaker, uow):
    await append(uow, "P1", 0, [registered(2024)])
    with pytest.raises(ConcurrencyConflict):
        await append(uow, "P1", 1, [registered(2024)])
    async with sessionmaker() as session:
        count = await session.scalar(select(func.count()).select_from(registrations))
        assert count == 1


async def test_second_person_with_the_same_certno_is_refused(uow):
    await append(uow, "P1", 0, [registered()])
    with pytest.raises(ConcurrencyConflict):
        await append(uow, "P2", 0, [registered()])


async def test_concurrent_appends_to_one_stream_keep_every_version_once(uow):
    """Twenty writers append to one stream at once; retries re-read, nothing merges or gaps."""
    await append(uow, "P1", 0, [registered()])

    async def writer(n: int) -> int:
        async def handler(work: unit_of_work.UnitOfWork) -> int:
            version = await work.events.version("P1")
            await asyncio.sleep(0)  # let the others read the same version
            await work.events.append_many(numbered("P1", version, [identity(n)], actor="system"))
            return version + 1

        return await unit_of_work.run(uow, handler, attempts=50)

    versions = await asyncio.gather(*(writer(n) for n in range(20)))
    assert sorted(versions) == list(range(2, 22))
    async with uow() as work:
        stream = await work.events.load("P1")
        session = work.session
        assert [e.stream_version for e in stream] == list(range(1, 22))
        reasons = sorted(e.payload.reason for e in stream[1:])
        assert reasons == sorted(f"change {n}" for n in range(20))
        assert await session.scalar(select(func.count()).select_from(events)) == 21
        assert await session.scalar(select(func.count()).select_from(outbox)) == 21


async def test_concurrent_first_appends_without_retry_one_wins(uow):
    async def attempt(n: int) -> str:
        async def handler(work: unit_of_work.UnitOfWork) -> None:
            await work.events.append_many(numbered("P1", 0, [identity(n)], actor="system"))

        try:
            await unit_of_work.run(uow, handler, attempts=1)
        except ConcurrencyConflict:
            return "conflict"
        return "ok"

    outcomes = await asyncio.gather(*(attempt(n) for n in range(5)))
    assert outcomes.count("ok") == 1
    assert outcomes.count("conflict") == 4


async def test_the_database_refuses_to_rewrite_or_delete_an_event(sessionmaker, uow):
    await append(uow, "P1", 0, [registered()])
    for statement in (
        update(events).values(payload="{}"),
        delete(events),
    ):
        async with sessionmaker() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(statement)
            await session.rollback()
    async with uow() as work:
        assert len(await work.events.load("P1")) == 1
