"""The event store: append-only streams of events per person — the one way to read and write them.

Used inside a unit of work (``service_layer/unit_of_work.py``), which alone commits::

    streams = await uow.events.load_many(psn_nos)     # {psn_no: [Event, ...]}, stream order
    await uow.events.append_many(new_events)          # numbered by the caller (stream_version)

Every writer — the registration handlers, the school-list import, the tax feed — appends this
way; a single append is a batch of one. The caller numbers each event after the version its
decision was based on; the database refuses a second event with the same (psn_no,
stream_version), so when another transaction appended first the insert fails with
``ConcurrencyConflict``: the unit of work rolls back and the handler decides again on the new
state. Nothing is ever merged silently.

In the same transaction ``append_many`` writes, per event:

* its outbox row for ``enrollment.events``, keyed by psn_no (the relay publishes it);
* ``certno_index`` when a stream starts with ``registered`` (one psn_no per certno);
* ``registrations`` for each ``registered`` event (one registration per person and year);
* the subsidies and special-persons rows of ``projections.py``.

Those lookups have unique keys, so two concurrent first registrations of one certno end with one
person, and the loser's retry finds it (``find_psn_no``). Reads and writes are batches (one query
for many streams, one insert per table) through the ``Recorder`` that ``bootstrap`` chose.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from services.enrollment.adapters import projections
from services.enrollment.adapters.recorders import IN_CHUNK, ConcurrencyConflict, Recorder
from services.enrollment.adapters.tables import certno_index, events, outbox, registrations
from shared.events import (
    PAYLOAD_TYPES,
    TOPIC_ENROLLMENT_EVENTS,
    UNKNOWN_ACTOR,
    Event,
    EventType,
    Registered,
    utcnow,
)
from shared.trusted import trusted

__all__ = ["ConcurrencyConflict", "EventStore", "decode"]

COLUMNS = (
    events.c.event_id,
    events.c.event_type,
    events.c.schema_version,
    events.c.psn_no,
    events.c.stream_version,
    events.c.occurred_at,
    events.c.recorded_at,
    events.c.payload,
    events.c.actor,
)
"""The columns ``decode`` takes, in its order."""

Message = tuple[str, str | None, str]
"""An outbox message: (topic, key, value as UTF-8 text)."""


def decode(
    event_id: str,
    event_type: str,
    schema_version: int,
    psn_no: str,
    stream_version: int,
    occurred_at: datetime,
    recorded_at: datetime,
    payload: str,
    actor: str | None,
) -> Event:
    """A stored row (``COLUMNS``) back to its event: the one row decoder.

    Rows at the current schema version are trusted (this service wrote them) and only their
    payload is validated, from its JSON text, which is several times cheaper; older rows take the
    full path through the upcasters. A row stored before events had an actor reads as
    ``"unknown"`` (the row itself is never rewritten).
    """
    kind = EventType(event_type)
    payload_cls = PAYLOAD_TYPES[kind]
    if schema_version != payload_cls.schema_version:
        return Event.model_validate(
            {
                "event_id": event_id,
                "event_type": event_type,
                "schema_version": schema_version,
                "psn_no": psn_no,
                "stream_version": stream_version,
                "occurred_at": occurred_at,
                "recorded_at": recorded_at,
                "actor": actor or UNKNOWN_ACTOR,
                "payload": json.loads(payload),
            }
        )
    return trusted(
        Event,
        {
            "event_id": uuid.UUID(event_id),
            "event_type": kind,
            "schema_version": schema_version,
            "psn_no": psn_no,
            "stream_version": stream_version,
            "occurred_at": occurred_at.astimezone(UTC),
            "recorded_at": recorded_at.astimezone(UTC),
            "actor": actor or UNKNOWN_ACTOR,
            "payload": payload_cls.model_validate_json(payload),
        },
    )


class EventStore:
    """Read and append person streams in the unit of work's transaction (never commits)."""

    def __init__(self, recorder: Recorder, *, topic: str = TOPIC_ENROLLMENT_EVENTS) -> None:
        self.recorder = recorder
        self.session = recorder.session
        self.topic = topic
        self.appended_count = 0

    async def load_many(self, psn_nos: Collection[str]) -> dict[str, list[Event]]:
        """The streams of many people, each oldest first (people without events are absent)."""
        rows = await self.recorder.select_in(
            events.c.psn_no, psn_nos, COLUMNS, (events.c.psn_no, events.c.stream_version)
        )
        streams: dict[str, list[Event]] = defaultdict(list)
        for row in rows:
            streams[row[3]].append(decode(*row))
        return dict(streams)

    async def load(self, psn_no: str) -> list[Event]:
        """One person's stream, oldest first (``[]`` when there is none)."""
        return (await self.load_many([psn_no])).get(psn_no, [])

    async def psn_nos(self, certnos: Collection[str]) -> dict[str, str]:
        """certno → psn_no for the (normalised) certnos that have a person."""
        rows = await self.recorder.select_in(
            certno_index.c.certno, certnos, (certno_index.c.certno, certno_index.c.psn_no)
        )
        return {certno: psn_no for certno, psn_no in rows}

    async def find_psn_no(self, certno: str) -> str | None:
        """The person registered under a (normalised) certno, if any."""
        return (await self.psn_nos([certno])).get(certno)

    async def registered_for(self, year: int, psn_nos: Collection[str]) -> set[str]:
        """The people among these already registered for ``year``."""
        wanted = sorted(set(psn_nos))
        found: set[str] = set()
        for start in range(0, len(wanted), IN_CHUNK):
            rows = await self.session.execute(
                select(registrations.c.psn_no).where(
                    registrations.c.insurance_year == year,
                    registrations.c.psn_no.in_(wanted[start : start + IN_CHUNK]),
                )
            )
            found.update(rows.scalars())
        return found

    async def registered_after(self, year: int, after: str, limit: int) -> list[str]:
        """The people registered for ``year`` whose psn_no sorts after ``after`` (a page)."""
        rows = await self.session.execute(
            select(registrations.c.psn_no)
            .where(registrations.c.insurance_year == year, registrations.c.psn_no > after)
            .order_by(registrations.c.psn_no)
            .limit(limit)
        )
        return list(rows.scalars())

    async def version(self, psn_no: str) -> int:
        """The stream's current version (0 when it does not exist)."""
        result = await self.session.execute(
            select(func.coalesce(func.max(events.c.stream_version), 0)).where(
                events.c.psn_no == psn_no
            )
        )
        return int(result.scalar_one())

    async def read_all(self, after_position: int = 0, limit: int = 1000) -> list[tuple[int, Event]]:
        """Events in global order after a position: (position, event) pairs."""
        rows = await self.session.execute(
            select(events.c.position, *COLUMNS)
            .where(events.c.position > after_position)
            .order_by(events.c.position)
            .limit(limit)
        )
        return [(int(row[0]), decode(*row[1:])) for row in rows]

    async def append_many(self, new: Sequence[Event]) -> list[int]:
        """Insert events numbered by the caller, with their outbox rows and lookups.

        Returns their global positions, in the order given. Raises ``ConcurrencyConflict`` when
        a stream moved on (or a certno / year is taken): the transaction must be rolled back.
        """
        if not new:
            return []
        # Each event is serialised once: its payload's JSON (the ``events`` row) is the tail of
        # the envelope's (the outbox row), ``payload`` being the envelope's last field.
        envelopes = [e.to_json().decode() for e in new]
        await self.recorder.insert(
            events, [_event_row(e, envelope) for e, envelope in zip(new, envelopes, strict=True)]
        )
        # Then one read for the positions: RETURNING in parameter order would make SQLAlchemy
        # insert row by row on SQLite, and COPY returns nothing.
        ids = [str(e.event_id) for e in new]
        found = await self.recorder.select_in(
            events.c.event_id, ids, (events.c.event_id, events.c.position)
        )
        by_id = {event_id: int(position) for event_id, position in found}
        positions = [by_id[event_id] for event_id in ids]
        firsts, years = _lookup_rows(new)
        await self.recorder.insert(certno_index, firsts)
        await self.recorder.insert(registrations, years)
        await projections.record(self.recorder, new)
        now = utcnow()
        await self.recorder.insert(
            outbox,
            [
                _outbox_row(self.topic, e.psn_no, envelope, position, now)
                for e, envelope, position in zip(new, envelopes, positions, strict=True)
            ],
        )
        self.appended_count += len(new)
        return positions

    async def enqueue(self, messages: Sequence[Message]) -> None:
        """Queue many (topic, key, value) messages for the relay in one insert."""
        now = utcnow()
        await self.recorder.insert(
            outbox, [_outbox_row(topic, key, value, None, now) for topic, key, value in messages]
        )


_PAYLOAD_KEY = '"payload":'


def _event_row(event: Event, envelope: str) -> dict[str, Any]:
    # The payload's JSON inside the envelope's: the first ``"payload":`` key (no JSON string
    # holds that sequence unescaped) up to the envelope's closing brace.
    return {
        "event_id": str(event.event_id),
        "psn_no": event.psn_no,
        "stream_version": event.stream_version,
        "event_type": event.event_type.value,
        "schema_version": event.schema_version,
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
        "payload": envelope[envelope.index(_PAYLOAD_KEY) + len(_PAYLOAD_KEY) : -1],
        "actor": event.actor,
    }


def _lookup_rows(new: Sequence[Event]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``certno_index`` rows (first registrations) and ``registrations`` rows of events."""
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
                    "region": e.payload.region,
                    "organization": e.payload.organization,
                }
            )
    return firsts, years


def _outbox_row(
    topic: str, key: str | None, value: str, position: int | None, now: datetime
) -> dict[str, Any]:
    return {
        "topic": topic,
        "key": key,
        "value": value,
        "event_position": position,
        "created_at": now,
    }
