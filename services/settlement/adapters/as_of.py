"""What settlement knew of a person at a past instant (SPEC §10 as-of): the projection's state
then (``coverage_history``) and the totals of the ledger rows recorded up to then.

Instants are compared in UTC. An entry counts from its ``created_at``, the instant it was
decided, a few milliseconds before its transaction committed: an answer as of an instant inside
that window counts it, the live answer of that instant did not yet.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.settlement.adapters.tables import coverage_history, ledger
from services.settlement.domain import projection
from services.settlement.domain.projection import CoverageState
from services.settlement.engine import Accumulator


class Known(NamedTuple):
    """A person as settlement knew them at an instant."""

    state: CoverageState | None  # None: not known at that instant
    first_known: datetime | None  # the instant of their first history row (None: never known)
    kept_from_baseline: bool  # the first row is migration 0005's baseline: nothing before it


async def person_at(conn: AsyncConnection, psn_no: str, at: datetime) -> Known:
    """The projection's state of ``psn_no`` as it stood at ``at`` (aware)."""
    at = at.astimezone(UTC)
    history = coverage_history.c
    latest = (
        await conn.execute(
            select(history.state)
            .where(history.psn_no == psn_no, history.applied_at <= at)
            .order_by(history.version.desc())
            .limit(1)
        )
    ).scalar()
    first = (
        await conn.execute(
            select(history.applied_at, history.baseline)
            .where(history.psn_no == psn_no)
            .order_by(history.version)
            .limit(1)
        )
    ).first()
    state = None if latest is None else projection.from_json(latest)
    if first is None:
        return Known(state, None, False)
    return Known(state, _utc(first.applied_at), bool(first.baseline))


async def totals_at(conn: AsyncConnection, psn_no: str, year: int, at: datetime) -> Accumulator:
    """The person's totals of ``year`` from the ledger rows recorded up to ``at`` (aware)."""
    rows = await conn.execute(
        select(ledger.c.delta)
        .where(
            ledger.c.psn_no == psn_no,
            ledger.c.insurance_year == year,
            ledger.c.created_at <= at.astimezone(UTC),
        )
        .order_by(ledger.c.id)
    )
    totals = Accumulator.zero()
    for (delta,) in rows:
        totals = totals.plus(Accumulator.from_dict(json.loads(delta)))
    return totals


def _utc(moment: datetime) -> datetime:
    # SQLite hands back the UTC wall time it stored, without its zone.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
