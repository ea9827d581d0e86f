"""The coverage projection in the database: apply one event exactly once, in stream order.

The tracking record (``coverage_persons.last_version`` plus a ``processed_events`` row) is
written in the same transaction as the change, so an event delivered twice changes nothing. An
event ahead of the stream (a gap) is parked in ``pending_events`` and applied, with any parked
successors, once the missing one arrives — never around the gap.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.settlement.adapters.dbutil import for_update, insert_ignore
from services.settlement.adapters.tables import (
    coverage_history,
    coverage_persons,
    pending_events,
    processed_events,
)
from services.settlement.domain import projection
from services.settlement.domain.projection import CoverageState
from shared.events import Event

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    PARKED = "parked"


class CoverageStore:
    """The coverage projection as the HIS API reads it (one short connection a call)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def load(self, psn_no: str) -> CoverageState | None:
        """A person's coverage state, or None if settlement never heard of them."""
        async with self.engine.connect() as conn:
            return await load(conn, psn_no)

    async def load_by_certno(self, certno: str) -> CoverageState | None:
        """The same, found by resident ID number (the latest person holding it)."""
        async with self.engine.connect() as conn:
            return await load_by_certno(conn, certno)


async def load(conn: AsyncConnection, psn_no: str) -> CoverageState | None:
    raw = (
        await conn.execute(
            select(coverage_persons.c.state).where(coverage_persons.c.psn_no == psn_no)
        )
    ).scalar()
    return None if raw is None else projection.from_json(raw)


async def load_by_certno(conn: AsyncConnection, certno: str) -> CoverageState | None:
    raw = (
        await conn.execute(
            select(coverage_persons.c.state)
            .where(coverage_persons.c.certno == certno)
            .order_by(coverage_persons.c.updated_at.desc())
            .limit(1)
        )
    ).scalar()
    return None if raw is None else projection.from_json(raw)


async def apply(conn: AsyncConnection, event: Event) -> Outcome:
    """Fold one event into its person's projection (inside the caller's transaction)."""
    event_id = str(event.event_id)
    seen = (
        await conn.execute(
            select(processed_events.c.event_id).where(processed_events.c.event_id == event_id)
        )
    ).first()
    if seen is not None:
        return Outcome.DUPLICATE
    row = (
        await conn.execute(
            for_update(
                conn,
                select(coverage_persons.c.last_version, coverage_persons.c.state).where(
                    coverage_persons.c.psn_no == event.psn_no
                ),
            )
        )
    ).first()
    last = row.last_version if row else 0
    if event.stream_version <= last:
        return Outcome.DUPLICATE
    if event.stream_version > last + 1:
        await _park(conn, event, last)
        return Outcome.PARKED

    state = projection.from_json(row.state) if row else None
    state = projection.fold(state, event)
    await _track(conn, event)
    state = await _unpark_successors(conn, state, event)
    await _save(conn, state, is_new=row is None)
    return Outcome.APPLIED


async def _park(conn: AsyncConnection, event: Event, last: int) -> None:
    await conn.execute(
        insert_ignore(
            conn,
            pending_events,
            psn_no=event.psn_no,
            stream_version=event.stream_version,
            event_id=str(event.event_id),
            raw=event.to_json().decode(),
            parked_at=datetime.now(UTC),
        )
    )
    log.warning(
        "gap in stream %s: have v%d, got v%d; parked until the missing event arrives",
        event.psn_no,
        last,
        event.stream_version,
    )


async def _unpark_successors(
    conn: AsyncConnection, state: CoverageState, event: Event
) -> CoverageState:
    """The missing event may unblock parked successors: fold them in order, and unpark them."""
    parked = await conn.execute(
        select(pending_events.c.stream_version, pending_events.c.raw)
        .where(pending_events.c.psn_no == event.psn_no)
        .where(pending_events.c.stream_version > event.stream_version)
        .order_by(pending_events.c.stream_version)
    )
    for version, raw in parked.all():
        if version != state.version + 1:
            break
        later = Event.from_json(raw)
        state = projection.fold(state, later)
        await _track(conn, later)
    await conn.execute(
        delete(pending_events)
        .where(pending_events.c.psn_no == event.psn_no)
        .where(pending_events.c.stream_version <= state.version)
    )
    return state


async def _track(conn: AsyncConnection, event: Event) -> None:
    await conn.execute(
        insert(processed_events).values(
            event_id=str(event.event_id),
            psn_no=event.psn_no,
            stream_version=event.stream_version,
        )
    )


async def _save(conn: AsyncConnection, state: CoverageState, *, is_new: bool) -> None:
    values = {
        "certno": state.certno,
        "region": state.region,
        "last_version": state.version,
        "state": projection.to_json(state),
        "updated_at": datetime.now(UTC),
    }
    # The history the as-of answers read; a version refolded by a rebuild keeps its first row.
    await conn.execute(
        insert_ignore(
            conn,
            coverage_history,
            psn_no=state.psn_no,
            version=state.version,
            applied_at=values["updated_at"],
            state=values["state"],
            baseline=False,
        )
    )
    if is_new:
        await conn.execute(insert(coverage_persons).values(psn_no=state.psn_no, **values))
    else:
        await conn.execute(
            update(coverage_persons)
            .where(coverage_persons.c.psn_no == state.psn_no)
            .values(**values)
        )


async def gaps_waiting(conn: AsyncConnection) -> int:
    """How many persons have events parked behind a gap."""
    return int(
        (
            await conn.execute(select(func.count(func.distinct(pending_events.c.psn_no))))
        ).scalar_one()
    )


async def clear(conn: AsyncConnection) -> None:
    """Drop the whole projection (for `settlement rebuild`)."""
    for table in (pending_events, processed_events, coverage_persons):
        await conn.execute(delete(table))


async def snapshot(conn: AsyncConnection) -> dict[str, tuple[int, str]]:
    """Every person's (last_version, state JSON), to compare projections."""
    rows = await conn.execute(
        select(coverage_persons.c.psn_no, coverage_persons.c.last_version, coverage_persons.c.state)
    )
    return {r.psn_no: (r.last_version, r.state) for r in rows}
