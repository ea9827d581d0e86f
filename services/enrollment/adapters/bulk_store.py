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
from datetime import UTC
from typing import Any

import asyncpg
from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrollment.adapters.tables import certno_index, events, outbox, registrations
from shared.events import (
    PAYLOAD_TYPES,
    TOPIC_ENROLLMENT_EVENTS,
    Event,
    EventType,
    Registered,
    utcnow,
)


def _event(row: Any) -> Event:
    """An event from its stored row (SQLAlchemy row: attributes; asyncpg record: items)."""
    return _event_of(
        row.event_id,
        row.event_type,
        row.schema_version,
        row.psn_no,
        row.stream_version,
        row.occurred_at,
        row.recorded_at,
        row.payload,
    )


def _event_of(
    event_id: str,
    event_type_value: str,
    schema_version: int,
    psn_no: str,
    stream_version: int,
    occurred_at: Any,
    recorded_at: Any,
    payload: str,
) -> Event:
    """Rows at the current schema version are trusted (this service wrote them) and only their
    payload is validated, from its JSON text, which is several times cheaper; older rows take
    the full path through the upcasters."""
    event_type = EventType(event_type_value)
    payload_cls = PAYLOAD_TYPES[event_type]
    if schema_version != payload_cls.schema_version:
        return Event.model_validate(
            {
                "event_id": event_id,
                "event_type": event_type_value,
                "schema_version": schema_version,
                "psn_no": psn_no,
                "stream_version": stream_version,
                "occurred_at": occurred_at,
                "recorded_at": recorded_at,
                "payload": json.loads(payload),
            }
        )
    return Event.model_construct(
        event_id=uuid.UUID(event_id),
        event_type=event_type,
        schema_version=schema_version,
        psn_no=psn_no,
        stream_version=stream_version,
        occurred_at=occurred_at.astimezone(UTC),
        recorded_at=recorded_at.astimezone(UTC),
        payload=payload_cls.model_validate_json(payload),
    )


async def pg_connection(session: AsyncSession) -> asyncpg.Connection | None:
    """The session's asyncpg connection, inside its open transaction — or ``None`` (SQLite).

    SQLAlchemy begins the database transaction lazily, at its first statement; when none ran
    yet, a trivial one makes it begin, so that raw statements run in the same transaction.
    """
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        return None
    raw = (await connection.get_raw_connection()).driver_connection
    if raw is None:
        return None
    if not raw.is_in_transaction():
        await connection.exec_driver_sql("SELECT 1")
        if not raw.is_in_transaction():
            return None
    return raw


async def insert_rows(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows in the caller's transaction.

    On PostgreSQL, inside an open transaction, the rows go through ``COPY`` (several times
    cheaper than a multi-row INSERT for the server and for Python); a unique or check
    violation still aborts the transaction and surfaces as ``IntegrityError``. Elsewhere (SQLite,
    or no transaction started yet) it is SQLAlchemy's ``executemany``.
    """
    if not rows:
        return
    raw = await pg_connection(session)
    if raw is not None:
        columns = list(rows[0])
        await copy_records(raw, table, [tuple(row[c] for c in columns) for row in rows], columns)
        return
    await session.execute(insert(table), list(rows))


async def copy_records(
    raw: asyncpg.Connection, table: Table, records: Sequence[tuple[Any, ...]], columns: list[str]
) -> None:
    """``COPY`` ready tuples into a table (PostgreSQL); a violated key is ``IntegrityError``."""
    try:
        await raw.copy_records_to_table(table.name, records=records, columns=columns)
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(f"COPY {table.name}", None, exc) from exc


# PostgreSQL reads by ``= ANY($1)``: one prepared statement whatever the number of keys (an
# ``IN`` list of a thousand parameters costs more to compile, and to plan, than to run).
_PG_STREAMS = (
    "SELECT e.event_id, e.event_type, e.schema_version, e.psn_no, e.stream_version,"
    " e.occurred_at, e.recorded_at, e.payload"
    " FROM events e WHERE e.psn_no = ANY($1::varchar[]) ORDER BY e.psn_no, e.stream_version"
)
_PG_CERTNOS = "SELECT certno, psn_no FROM certno_index WHERE certno = ANY($1::varchar[])"
_PG_PEOPLE_STREAMS = (
    "SELECT c.certno, e.event_id, e.event_type, e.schema_version, e.psn_no, e.stream_version,"
    " e.occurred_at, e.recorded_at, e.payload"
    " FROM certno_index c JOIN events e ON e.psn_no = c.psn_no"
    " WHERE c.certno = ANY($1::varchar[]) ORDER BY e.psn_no, e.stream_version"
)
_PG_POSITIONS = "SELECT event_id, position FROM events WHERE event_id = ANY($1::varchar[])"


async def load_people(
    session: AsyncSession, certnos: Iterable[str]
) -> tuple[dict[str, str], dict[str, list[Event]]]:
    """certno → psn_no, and those people's streams (one query on PostgreSQL)."""
    wanted = sorted(set(certnos))
    raw = await pg_connection(session) if wanted else None
    if raw is None:
        found = await psn_nos_by_certno(session, wanted)
        return found, await load_streams(session, found.values())
    people: dict[str, str] = {}
    streams: dict[str, list[Event]] = defaultdict(list)
    for record in await raw.fetch(_PG_PEOPLE_STREAMS, wanted):
        people[record[0]] = record[4]
        streams[record[4]].append(_event_of(*record[1:]))
    return people, dict(streams)


async def load_streams(session: AsyncSession, psn_nos: Iterable[str]) -> dict[str, list[Event]]:
    """The streams of many people, each oldest first (people without events are absent)."""
    wanted = sorted(set(psn_nos))
    streams: dict[str, list[Event]] = defaultdict(list)
    raw = await pg_connection(session) if wanted else None
    if raw is not None:
        for record in await raw.fetch(_PG_STREAMS, wanted):
            streams[record[3]].append(_event_of(*record))
        return dict(streams)
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
    raw = await pg_connection(session) if wanted else None
    if raw is not None:
        return dict(await raw.fetch(_PG_CERTNOS, wanted))
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
    # Each event is serialised once: its payload's JSON (the ``events`` row) is the tail of
    # the envelope's (the outbox row), ``payload`` being the envelope's last field.
    envelopes = [e.to_json().decode() for e in new]
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
                "payload": _payload_json(envelope),
            }
            for e, envelope in zip(new, envelopes, strict=True)
        ],
    )
    ids = [str(e.event_id) for e in new]
    by_id = await _positions(session, ids)
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
                "value": envelope,
                "event_position": position,
                "created_at": now,
            }
            for e, envelope, position in zip(new, envelopes, positions, strict=True)
        ],
    )
    return positions


_PAYLOAD_KEY = '"payload":'


def _payload_json(envelope: str) -> str:
    """The payload's JSON inside an envelope's: the first ``"payload":`` key (no JSON string
    holds that sequence unescaped) up to the envelope's closing brace."""
    return envelope[envelope.index(_PAYLOAD_KEY) + len(_PAYLOAD_KEY) : -1]


async def _positions(session: AsyncSession, ids: list[str]) -> dict[str, int]:
    """event_id → position of events just inserted."""
    raw = await pg_connection(session)
    if raw is not None:
        return dict(await raw.fetch(_PG_POSITIONS, ids))
    by_id: dict[str, int] = {}
    for start in range(0, len(ids), 1000):
        rows = await session.execute(
            select(events.c.event_id, events.c.position).where(
                events.c.event_id.in_(ids[start : start + 1000])
            )
        )
        by_id.update({event_id: int(position) for event_id, position in rows.all()})
    return by_id


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
