"""What the enrollment console shows, read from its sums and the service's own tables.

Registrations, premium collection and special persons come from the sums kept by
``console_summary`` (caught up from the event store before a page reads them), filtered by the
viewer's scope on their region and organization; the unmatched list, the special persons' lists
and the outbox from their own tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, false, func, literal_column, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrollment.adapters.console_summary import (
    console_collection,
    console_paid_days,
    console_special,
)
from services.enrollment.adapters.special_tables import (
    assistance_uploads,
    carry_over_lists,
    carry_over_years,
)
from services.enrollment.adapters.tables import outbox, unmatched_payments
from services.enrollment.domain.access import Scope
from shared.money import CENT, ZERO


def _in_scope(table: Any, scope: Scope) -> ColumnElement[bool]:
    """The rows of a sum (with region and organization columns) that ``scope`` holds."""
    if scope.everything:
        return true()
    if scope.region_prefix is not None:
        return table.c.region.startswith(scope.region_prefix, autoescape=True)
    if scope.organization is not None:
        return table.c.organization == scope.organization
    return false()


def _yuan(fen: Any) -> Decimal:
    return (Decimal(int(fen or 0)) / 100).quantize(CENT)


async def registrations_by_category(session: AsyncSession, scope: Scope) -> list[dict[str, Any]]:
    """People registered per insurance year and category, inside ``scope``."""
    c = console_collection.c
    query = (
        select(c.insurance_year, c.category, func.sum(c.people).label("people"))
        .where(_in_scope(console_collection, scope))
        .group_by(c.insurance_year, c.category)
    )
    return [dict(row._mapping) for row in await session.execute(query)]


@dataclass(frozen=True, slots=True)
class Collection:
    """One organization's year: people, what they owe, what they paid, who is covered."""

    organization: str
    people: int
    due: Decimal
    paid: Decimal
    covered: int

    @property
    def outstanding(self) -> Decimal:
        return max(ZERO, self.due - self.paid)

    def row(self) -> dict[str, Any]:
        return {
            "organization": self.organization,
            "people": self.people,
            "due": self.due,
            "paid": self.paid,
            "outstanding": self.outstanding,
            "covered": self.covered,
            "rate": (self.paid * 100 / self.due).quantize(Decimal("0.1")) if self.due else None,
        }


async def collection(session: AsyncSession, year: int, scope: Scope) -> list[Collection]:
    """Per organization: due against paid for ``year``, inside ``scope``."""
    c = console_collection.c
    query = (
        select(
            c.organization,
            *(func.sum(c[n]).label(n) for n in ("people", "due", "paid", "covered")),
        )
        .where(c.insurance_year == year, _in_scope(console_collection, scope))
        .group_by(c.organization)
    )
    return [
        Collection(r.organization, int(r.people), _yuan(r.due), _yuan(r.paid), int(r.covered))
        for r in await session.execute(query)
        if r.people
    ]


async def paid_per_day(
    session: AsyncSession, year: int, scope: Scope, organization: str | None
) -> dict[date, Decimal]:
    """What was paid (less refunds) for ``year`` on each China-time day, inside ``scope``."""
    d = console_paid_days.c
    query = (
        select(d.day, func.sum(d.paid).label("paid"))
        .where(d.insurance_year == year, _in_scope(console_paid_days, scope))
        .group_by(d.day)
    )
    if organization is not None:
        query = query.where(d.organization == organization)
    return {row.day: _yuan(row.paid) for row in await session.execute(query)}


async def years(session: AsyncSession, scope: Scope) -> list[int]:
    """The insurance years with registrations inside ``scope``, newest first."""
    c = console_collection.c
    query = (
        select(c.insurance_year)
        .where(c.people > 0, _in_scope(console_collection, scope))
        .distinct()
    )
    return sorted((int(y) for y in (await session.execute(query)).scalars()), reverse=True)


async def special_by_identity(session: AsyncSession, scope: Scope) -> dict[str, int]:
    """Special persons per identity as last recorded (``medical_assistance``: flagged only)."""
    s = console_special.c
    query = (
        select(s.identity, func.sum(s.people).label("people"))
        .where(_in_scope(console_special, scope))
        .group_by(s.identity)
    )
    return {row.identity: int(row.people) for row in await session.execute(query) if row.people}


async def carry_over(session: AsyncSession) -> tuple[list[Any], list[Any]]:
    """Each year's carry-over status, and the lists handed in, newest year first."""
    statuses = await session.execute(
        select(carry_over_years).order_by(carry_over_years.c.insurance_year.desc())
    )
    lists = await session.execute(
        select(carry_over_lists).order_by(
            carry_over_lists.c.insurance_year.desc(), carry_over_lists.c.source
        )
    )
    return list(statuses.all()), list(lists.all())


async def assistance(session: AsyncSession, limit: int = 24) -> list[Any]:
    """The monthly medical-assistance lists handed in, newest first."""
    a = assistance_uploads.c
    query = select(assistance_uploads).order_by(a.month.desc(), a.uploaded_at.desc()).limit(limit)
    return list((await session.execute(query)).all())


def _open(resolved: bool | None) -> ColumnElement[bool]:
    u = unmatched_payments.c
    if resolved is None:
        return literal_column("1") == 1
    return u.resolved_at.is_not(None) if resolved else u.resolved_at.is_(None)


async def unmatched_reasons(session: AsyncSession, resolved: bool | None) -> dict[str, int]:
    """Unmatched tax messages per reason."""
    u = unmatched_payments.c
    query = select(u.reason, func.count()).where(_open(resolved)).group_by(u.reason)
    return {reason: int(n) for reason, n in await session.execute(query)}


UNMATCHED_SORTS = ("id", "received_at", "reason", "tax_serial", "resolved_at")


async def unmatched_page(
    session: AsyncSession,
    resolved: bool | None,
    sort: str,
    descending: bool,
    offset: int,
    limit: int,
) -> list[Any]:
    """One page of the unmatched list, sorted in the query (``sort`` one of UNMATCHED_SORTS)."""
    u = unmatched_payments.c
    column = u[sort]
    query = (
        select(unmatched_payments)
        .where(_open(resolved))
        .order_by(column.desc() if descending else column.asc(), u.id)
        .offset(offset)
        .limit(limit)
    )
    return list((await session.execute(query)).all())


async def outbox_topics(session: AsyncSession) -> list[tuple[str, int, datetime | None]]:
    """Per topic: messages waiting for the relay and the oldest one's time."""
    o = outbox.c
    query = select(o.topic, func.count(), func.min(o.created_at)).group_by(o.topic)
    return [(topic, int(n), oldest) for topic, n, oldest in await session.execute(query)]
