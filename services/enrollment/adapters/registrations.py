"""Registrations read by scope: a caller's lists filtered in the query itself (SPEC §8).

``registrations`` holds one row per person and year with that year's region and organization
(migration 0005), written by the event store with the ``registered`` event. ``in_scope(scope)``
turns a ``domain.access.Scope`` into a WHERE clause on it, so a district's export holds its region
prefix's people and a town's its organization's, and nothing else is ever read.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, false, func, select, true

from services.enrollment.adapters.recorders import IN_CHUNK, Recorder
from services.enrollment.adapters.tables import registrations
from services.enrollment.domain.access import Scope


def in_scope(scope: Scope) -> ColumnElement[bool]:
    """The registrations ``scope`` holds (the same rule as ``Scope.holds``)."""
    c = registrations.c
    if scope.everything:
        return true()
    if scope.region_prefix is not None:
        return c.region.startswith(scope.region_prefix, autoescape=True)
    if scope.organization is not None:
        return c.organization == scope.organization
    return false()


class Registrations:
    """Registrations of a year, by scope, in the caller's transaction."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.session = recorder.session

    async def after(self, year: int, after: str, limit: int, scope: Scope) -> list[str]:
        """The people registered for ``year`` in ``scope`` whose psn_no sorts after ``after``."""
        c = registrations.c
        rows = await self.session.execute(
            select(c.psn_no)
            .where(c.insurance_year == year, c.psn_no > after, in_scope(scope))
            .order_by(c.psn_no)
            .limit(limit)
        )
        return list(rows.scalars())

    async def count(self, year: int, scope: Scope) -> int:
        """How many people are registered for ``year`` in ``scope``."""
        c = registrations.c
        query = select(func.count()).where(c.insurance_year == year, in_scope(scope))
        return int(await self.session.scalar(query) or 0)

    async def within(self, year: int, psn_nos: Collection[str], scope: Scope) -> set[str]:
        """The people among ``psn_nos`` whose registration for ``year`` lies in ``scope``."""
        if scope.everything:
            return set(psn_nos)
        c = registrations.c
        found: set[str] = set()
        wanted = sorted(set(psn_nos))
        for start in range(0, len(wanted), IN_CHUNK):
            rows = await self.session.execute(
                select(c.psn_no).where(
                    c.insurance_year == year,
                    c.psn_no.in_(wanted[start : start + IN_CHUNK]),
                    in_scope(scope),
                )
            )
            found.update(rows.scalars())
        return found

    async def places(self, psn_nos: Collection[str]) -> dict[str, tuple[str | None, str | None]]:
        """psn_no → (region, organization) of each person's latest registered year."""
        c = registrations.c
        rows: list[Any] = await self.recorder.select_in(
            c.psn_no, psn_nos, (c.psn_no, c.insurance_year, c.region, c.organization)
        )
        latest: dict[str, tuple[int, str | None, str | None]] = {}
        for psn_no, year, region, organization in rows:
            if psn_no not in latest or year > latest[psn_no][0]:
                latest[psn_no] = (year, region, organization)
        return {psn_no: (region, org) for psn_no, (_, region, org) in latest.items()}
