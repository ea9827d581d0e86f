"""Migration 0005 on SQLite and PostgreSQL: events keep their actor, events stored before it read
as "unknown" without being rewritten, and registrations learn their region and organization."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from services.enrollment.adapters.tables import events, registrations
from services.enrollment.bootstrap import unit_of_work_factory
from services.enrollment.settings import MIGRATIONS
from shared import migrate
from shared.db import make_engine, make_sessionmaker
from shared.events import UNKNOWN_ACTOR

pytestmark = pytest.mark.integration

PAYLOAD = {
    "certno": "11010519491231002X",
    "name": "王芳",
    "gender": "female",
    "birth_date": "1949-12-31",
    "category": "resident",
    "identity": "ordinary",
    "medical_assistance": False,
    "region": "371502",
    "organization": "Dongchang street",
    "insurance_year": 2024,
    "premium_due": "400.00",
}


async def _old_rows(url: str) -> None:
    """A registration as 0004 stored it: no actor, no region in registrations."""
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            at = datetime(2024, 1, 2, tzinfo=UTC)
            await conn.execute(
                text(
                    "INSERT INTO events (event_id, psn_no, stream_version, event_type,"
                    " schema_version, occurred_at, recorded_at, payload) VALUES"
                    " ('00000000-0000-0000-0000-000000000001', 'POLD', 1, 'registered', 1,"
                    " :at, :at, :payload)"
                ),
                {"at": at, "payload": json.dumps(PAYLOAD)},
            )
            await conn.execute(
                text(
                    "INSERT INTO registrations (psn_no, insurance_year, event_id) VALUES"
                    " ('POLD', 2024, '00000000-0000-0000-0000-000000000001')"
                )
            )
    finally:
        await engine.dispose()


async def test_old_events_read_as_unknown_and_registrations_get_their_place(db_url):
    await asyncio.to_thread(migrate.upgrade, MIGRATIONS, db_url, "0004_staff_audit")
    await _old_rows(db_url)
    await asyncio.to_thread(migrate.upgrade, MIGRATIONS, db_url)
    engine = make_engine(db_url)
    try:
        uow = unit_of_work_factory(make_sessionmaker(engine))
        async with uow() as work:
            [event] = await work.events.load("POLD")
            assert event.actor == UNKNOWN_ACTOR
            stored = await work.session.scalar(select(events.c.actor))
            assert stored is None  # read as unknown, never rewritten
            place = (await work.session.execute(select(registrations))).one()
            assert (place.region, place.organization) == ("371502", "Dongchang street")
    finally:
        await engine.dispose()
