"""Migration 0006 on SQLite and PostgreSQL: subsidies keep their rows under their event's id, the
special-persons index is filled from the stored events, and down then up again works."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import select, text

from services.enrollment.adapters.special_tables import special_persons
from services.enrollment.adapters.tables import subsidies
from services.enrollment.settings import MIGRATIONS
from shared import migrate
from shared.db import make_engine

pytestmark = pytest.mark.integration

AT = datetime(2024, 3, 2, tzinfo=UTC)


def payload(identity: str, flag: bool) -> str:
    return json.dumps(
        {
            "certno": "11010519491231002X",
            "name": "王芳",
            "gender": "female",
            "birth_date": "1949-12-31",
            "category": "resident",
            "identity": identity,
            "medical_assistance": flag,
            "region": "450204",
            "organization": "潭西街道",
            "insurance_year": 2024,
            "premium_due": "400.00",
        },
        separators=(",", ":"),
    )


async def _rows_of_0005(url: str) -> None:
    """Three people as 0005 stored them (special, flagged, ordinary) and one old subsidy."""
    engine = make_engine(url)
    insert_event = text(
        "INSERT INTO events (event_id, psn_no, stream_version, event_type, schema_version,"
        " occurred_at, recorded_at, payload, actor) VALUES (:id, :psn, 1, 'registered', 1,"
        " :at, :at, :payload, 'system')"
    )
    try:
        async with engine.begin() as conn:
            for n, (psn, identity, flag) in enumerate(
                [
                    ("PSPECIAL", "orphan", False),
                    ("PFLAG", "ordinary", True),
                    ("PNO", "ordinary", False),
                ]
            ):
                await conn.execute(
                    insert_event,
                    {
                        "id": f"00000000-0000-0000-0000-00000000000{n}",
                        "psn": psn,
                        "at": AT,
                        "payload": payload(identity, flag),
                    },
                )
            await conn.execute(
                text(
                    "INSERT INTO subsidies (tax_serial, psn_no, insurance_year, kind, status,"
                    " amount, event_id, granted_at) VALUES ('S1', 'PSPECIAL', 2024,"
                    " 'refund_after_payment', 'payable', 360, 'e-1', :at)"
                ),
                {"at": AT},
            )
    finally:
        await engine.dispose()


async def _read(url: str) -> tuple[list, set[str]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(subsidies))).all()
            index = set((await conn.execute(select(special_persons.c.psn_no))).scalars())
        return rows, index
    finally:
        await engine.dispose()


async def test_subsidies_are_kept_and_the_special_index_is_filled_then_down_and_up(db_url):
    await asyncio.to_thread(migrate.upgrade, MIGRATIONS, db_url, "0005_actor_and_scope")
    await _rows_of_0005(db_url)
    await asyncio.to_thread(migrate.upgrade, MIGRATIONS, db_url)
    rows, index = await _read(db_url)
    [row] = rows
    assert (row.event_id, row.tax_serial, row.status, row.paid_on) == ("e-1", "S1", "payable", None)
    assert index == {"PSPECIAL", "PFLAG"}
    config = migrate.alembic_config(MIGRATIONS, db_url)
    await asyncio.to_thread(command.downgrade, config, "0005_actor_and_scope")
    await asyncio.to_thread(migrate.upgrade, MIGRATIONS, db_url)
    rows, index = await _read(db_url)
    assert [(r.event_id, r.tax_serial) for r in rows] == [("e-1", "S1")]
    assert index == {"PSPECIAL", "PFLAG"}
