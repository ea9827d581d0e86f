"""Bulk reads and appends over the event store's tables, for the high-volume paths.

The school-list import and the tax feed handle thousands of people a second; one transaction (or
even one statement) per event would not keep up. These helpers do what ``store.EventStore`` does —
the same rows in ``events``, ``certno_index``, ``registrations`` and ``outbox``, guarded by the same
unique keys — but for many streams at once: one ``IN`` query to load, one ``executemany`` per table
to append. An append that collides with another writer raises ``IntegrityError``; the caller rolls
back and re-runs its decisions on fresh state (never merges).
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg
from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrollment.models import certno_index, events, outbox, registrations
from shared.events import (
    PAYLOAD_TYPES,
    TOPIC_ENROLLMENT_EVENTS,
    Event,
    EventType,
    Registered,
    utcnow,
)


def _event(row: Any) -> Event:
    """An event from its stored row. Rows at the current schema version are trusted (this
    service wrote them) and only their payload is validated, from its JSON text, which is
    several times cheaper; older rows take the full path through the upcasters."""
    event_type = EventType(row.event_type)
    payload_cls = PAYLOAD_TYPES[event_type]
    if row.schema_version != payload_cls.schema_version:
        return Event.model_validate(
            {
                "event_id": row.event_id,
                "event_type": row.event_type,
                "schema_version": row.schema_version,
                "psn_no": row.psn_no,
                "stream_version": row.stream_version,
                "occurred_at": row.occurred_at,
                "recorded_at": row.recorded_at,
                "payload": json.loads(row.payload),
            }
        )
    return Event.model_construct(
        event_id=uuid.UUID(row.event_id),
        event_type=event_type,
        schema_version=row.schema_version,
        psn_no=row.psn_no,
        stream_version=row.stream_version,
        occurred_at=row.occurred_at,
        recorded_at=row.recorded_at,
        payload=payload_cls.model_validate_json(row.payload),
    )


async def insert_rows(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows in the caller's transaction.

    On PostgreSQL, inside an open transaction, the rows go through ``COPY`` (several times
    cheaper than a multi-row INSERT for the server and for Python); a unique or check
    violation still aborts the transaction and surfaces as ``IntegrityError``. Elsewhere (SQLite,
    or no transaction started yet) it is SQLAlchemy's ``executemany``.
    """
    if not rows:
        return
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        raw = (await connection.get_raw_connection()).driver_connection
        if raw is not None and raw.is_in_transaction():
            columns = list(rows[0])
            try:
                await raw.copy_records_to_table(
                    table.name,
                    records=[tuple(row[c] for c in columns) for row in rows],
                    columns=columns,
                )
            except asyncpg.IntegrityConstraintViolationError as exc:
                raise IntegrityError(f"COPY {table.name}", None, exc) from exc
            return
    await session.execute(insert(table), list(rows))


async def load_streams(session: AsyncSession, psn_nos: Iterable[str]) -> dict[str, list[Event]]:
    """The streams of many people, each oldest first (people without events are absent)."""
    wanted = sorted(set(psn_nos))
    streams: dict[str, list[Event]] = defaultdict(list)
    for start in range(0, len(wanted), 1000):
        rows = await session.execute(
            select(events)
            .where(events.c.psn_no.in_(wanted[start : start + 1000]))
            .order_by(events.c.psn_no, events.c.stream_version)
        )
        for row in rows:
            streams[row.psn_no].append(_event(row))
    return dict(streams)


async def psn_nos_by_certno(session: AsyncSession, certnos: Iterable[str]) -> dict[str, str]:
    """certno → psn_no for the certnos that have a person."""
    wanted = sorted(set(certnos))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), 1000):
        rows = await session.execute(
            select(certno_index.c.certno, certno_index.c.psn_no).where(
                certno_index.c.certno.in_(wanted[start : start + 1000])
            )
        )
        found.update({certno: psn_no for certno, psn_no in rows.all()})
    return found


async def append_many(session: AsyncSession, new: Sequence[Event]) -> list[int]:
    """Insert ready events (numbered by the caller) with their outbox rows and lookups.

    Returns the global positions, in the order given. Never commits.
    """
    if not new:
        return []
    # Insert, then one SELECT for the positions: RETURNING in parameter order would make
    # SQLAlchemy insert row by row on SQLite, and COPY returns nothing.
    await insert_rows(
        session,
        events,
        [
            {
                "event_id": str(e.event_id),
                "psn_no": e.psn_no,
                "stream_version": e.stream_version,
                "event_type": e.event_type.value,
                "schema_version": e.schema_version,
                "occurred_at": e.occurred_at,
                "recorded_at": e.recorded_at,
                "payload": e.payload.model_dump_json(),
            }
            for e in new
        ],
    )
    ids = [str(e.event_id) for e in new]
    by_id: dict[str, int] = {}
    for start in range(0, len(ids), 1000):
        rows = await session.execute(
            select(events.c.event_id, events.c.position).where(
                events.c.event_id.in_(ids[start : start + 1000])
            )
        )
        by_id.update({event_id: int(position) for event_id, position in rows.all()})
    positions = [by_id[event_id] for event_id in ids]
    firsts: list[dict[str, Any]] = []
    years: list[dict[str, Any]] = []
    for e in new:
        if isinstance(e.payload, Registered):
            if e.stream_version == 1:
                firsts.append({"certno": e.payload.certno, "psn_no": e.psn_no})
            years.append(
                {
                    "psn_no": e.psn_no,
                    "insurance_year": e.payload.insurance_year,
                    "event_id": str(e.event_id),
                }
            )
    await insert_rows(session, certno_index, firsts)
    await insert_rows(session, registrations, years)
    now = utcnow()
    await insert_rows(
        session,
        outbox,
        [
            {
                "topic": TOPIC_ENROLLMENT_EVENTS,
                "key": e.psn_no,
                "value": e.to_json().decode(),
                "event_position": position,
                "created_at": now,
            }
            for e, position in zip(new, positions, strict=True)
        ],
    )
    return positions


async def add_messages(
    session: AsyncSession, messages: Sequence[tuple[str, str | None, str]]
) -> None:
    """Queue (topic, key, value) messages for the relay in the caller's transaction."""
    if not messages:
        return
    now = utcnow()
    await insert_rows(
        session,
        outbox,
        [
            {"topic": topic, "key": key, "value": value, "event_position": None, "created_at": now}
            for topic, key, value in messages
        ],
    )
