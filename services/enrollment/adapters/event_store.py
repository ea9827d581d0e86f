"""The event store: append-only streams of events per person, on SQLAlchemy 2 (async).

Usage, inside a unit of work (``unit_of_work.py``), which alone commits::

    store = EventStore(session)
    history = await store.load(psn_no)                      # list[Event], stream order
    new = await store.append(psn_no, len(history), [payload, ...], occurred_at=...)

``append`` takes the version the caller's decision was based on (``expected_version``, 0 for a
new stream) and numbers the new events from there. The database refuses a second event with the
same (psn_no, stream_version): when another transaction appended first, the insert fails and
``ConcurrencyConflict`` is raised — the caller rolls back and either re-runs its decision on the
new state (``unit_of_work.run``) or refuses. Nothing is ever merged silently.

In the same transaction ``append`` writes:

* one outbox row per event for ``enrollment.events``, keyed by psn_no (the relay publishes it);
* ``certno_index`` when a stream starts with ``registered`` (one psn_no per certno);
* ``registrations`` for each ``registered`` event (one registration per person and year).

Those lookups have unique keys, so two concurrent first registrations of one certno end with one
person, and the loser's retry finds it (``find_psn_no``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrollment.adapters.outbox import Outbox
from services.enrollment.adapters.tables import certno_index, events, registrations
from shared.events import (
    TOPIC_ENROLLMENT_EVENTS,
    Event,
    EventPayload,
    Registered,
    utcnow,
)


class ConcurrencyConflict(Exception):
    """Another transaction appended to the stream (or claimed the certno / year) first."""

    def __init__(self, psn_no: str, expected_version: int) -> None:
        super().__init__(f"stream {psn_no} moved past version {expected_version}")
        self.psn_no = psn_no
        self.expected_version = expected_version


def _row_to_event(row: Row[Any]) -> Event:
    """A stored row back to its envelope; old payload versions are upcast by ``Event``."""
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


class EventStore:
    """Read and append person streams within the caller's session (never commits)."""

    def __init__(self, session: AsyncSession, *, topic: str = TOPIC_ENROLLMENT_EVENTS) -> None:
        self.session = session
        self.outbox = Outbox(session)
        self.topic = topic
        self.appended_count = 0

    async def load(self, psn_no: str) -> list[Event]:
        """The whole stream of one person, oldest first (upcast to current schemas)."""
        rows = await self.session.execute(
            select(events).where(events.c.psn_no == psn_no).order_by(events.c.stream_version)
        )
        return [_row_to_event(row) for row in rows]

    async def version(self, psn_no: str) -> int:
        """The stream's current version (0 when it does not exist)."""
        result = await self.session.execute(
            select(func.coalesce(func.max(events.c.stream_version), 0)).where(
                events.c.psn_no == psn_no
            )
        )
        return int(result.scalar_one())

    async def find_psn_no(self, certno: str) -> str | None:
        """The person registered under a (normalised) certno, if any."""
        result = await self.session.execute(
            select(certno_index.c.psn_no).where(certno_index.c.certno == certno)
        )
        return result.scalar_one_or_none()

    async def read_all(self, after_position: int = 0, limit: int = 1000) -> list[tuple[int, Event]]:
        """Events in global order after a position: (position, event) pairs."""
        rows = await self.session.execute(
            select(events)
            .where(events.c.position > after_position)
            .order_by(events.c.position)
            .limit(limit)
        )
        return [(row.position, _row_to_event(row)) for row in rows]

    async def append(
        self,
        psn_no: str,
        expected_version: int,
        new: Sequence[EventPayload | Event],
        *,
        occurred_at: datetime | None = None,
    ) -> list[Event]:
        """Append payloads (or ready events) after ``expected_version``; queue them for Kafka.

        Raises ``ConcurrencyConflict`` when the stream moved on (or the certno / year is taken)
        — the session is then unusable and must be rolled back.
        """
        appended: list[Event] = []
        now = utcnow()
        for offset, item in enumerate(new, start=1):
            version = expected_version + offset
            if isinstance(item, Event):
                if item.psn_no != psn_no or item.stream_version != version:
                    raise ValueError(
                        f"event {item.event_id} does not follow {psn_no}@{version - 1}"
                    )
                event = item
            else:
                event = Event.new(
                    item, psn_no=psn_no, stream_version=version, occurred_at=occurred_at or now
                )
            try:
                position = await self._insert(event)
            except IntegrityError as exc:
                raise ConcurrencyConflict(psn_no, expected_version) from exc
            await self.outbox.add(self.topic, psn_no, event.to_json(), event_position=position)
            appended.append(event)
        self.appended_count += len(appended)
        return appended

    async def _insert(self, event: Event) -> int:
        result = await self.session.execute(
            insert(events)
            .values(
                event_id=str(event.event_id),
                psn_no=event.psn_no,
                stream_version=event.stream_version,
                event_type=event.event_type.value,
                schema_version=event.schema_version,
                occurred_at=event.occurred_at,
                recorded_at=event.recorded_at,
                payload=event.payload.model_dump_json(),
            )
            .returning(events.c.position)
        )
        position = int(result.scalar_one())
        payload = event.payload
        if isinstance(payload, Registered):
            if event.stream_version == 1:
                await self.session.execute(
                    insert(certno_index).values(certno=payload.certno, psn_no=event.psn_no)
                )
            await self.session.execute(
                insert(registrations).values(
                    psn_no=event.psn_no,
                    insurance_year=payload.insurance_year,
                    event_id=str(event.event_id),
                )
            )
        return position
