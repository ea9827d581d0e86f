"""What the enrollment console shows, read from the database (read-only queries).

A person's category, premium due and identity live in their events' payloads, so these queries
read the JSON in the database (``->>`` on PostgreSQL, ``json_extract`` on SQLite), starting
from the registrations of a year and the caller's scope (``registrations.in_scope``) and
reaching each person's events through the (psn_no, stream_version) key. What a person owes for a
year is the last ``registered`` or ``premium-due-changed`` of that year; what they paid, the
year's applied payments less refunds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Numeric,
    and_,
    case,
    cast,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrollment.adapters.registrations import in_scope
from services.enrollment.adapters.special_tables import (
    assistance_uploads,
    carry_over_lists,
    carry_over_years,
    special_persons,
)
from services.enrollment.adapters.tables import (
    events,
    outbox,
    payments,
    registrations,
    unmatched_payments,
)
from services.enrollment.domain.access import Scope
from shared.money import CENT, ZERO


def _field(session: AsyncSession, name: str) -> ColumnElement[Any]:
    """A payload field of ``events`` as text."""
    if session.bind.dialect.name == "postgresql":
        return cast(events.c.payload, postgresql.JSONB)[name].astext
    return func.json_extract(events.c.payload, f"$.{name}")


def _china_day(session: AsyncSession, column: Any) -> ColumnElement[Any]:
    """The date a clock in China shows at a UTC instant column."""
    if session.bind.dialect.name == "postgresql":
        name = f"{column.table.name}.{column.name}"
        return literal_column(f"(({name} AT TIME ZONE 'UTC') + interval '8 hours')::date", Date)
    return func.date(column, "+8 hours")


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


async def registrations_by_category(session: AsyncSession, scope: Scope) -> list[dict[str, Any]]:
    """People registered per insurance year and category, inside ``scope``."""
    r = registrations.c
    category = _field(session, "category").label("category")
    query = (
        select(r.insurance_year, category, func.count().label("people"))
        .select_from(registrations.join(events, events.c.event_id == r.event_id))
        .where(in_scope(scope))
        .group_by(r.insurance_year, category)
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


def _signed_amount() -> ColumnElement[Any]:
    return case((payments.c.kind == "refund", -payments.c.amount), else_=payments.c.amount)


async def collection(session: AsyncSession, year: int, scope: Scope) -> list[Collection]:
    """Per organization: due against paid for ``year``, inside ``scope``."""
    r = registrations.c
    people = (
        select(r.psn_no, r.organization)
        .where(r.insurance_year == year, in_scope(scope))
        .cte("people")
    )
    dues = (
        select(
            events.c.psn_no,
            cast(_field(session, "premium_due"), Numeric(14, 2)).label("due"),
            func.row_number()
            .over(partition_by=events.c.psn_no, order_by=events.c.stream_version.desc())
            .label("latest"),
        )
        .join(people, people.c.psn_no == events.c.psn_no)
        .where(
            events.c.event_type.in_(("registered", "premium-due-changed")),
            cast(_field(session, "insurance_year"), Integer) == year,
        )
        .cte("dues")
    )
    paid = (
        select(payments.c.psn_no, func.sum(_signed_amount()).label("paid"))
        .where(payments.c.insurance_year == year)
        .group_by(payments.c.psn_no)
        .cte("paid")
    )
    amount_paid = func.coalesce(paid.c.paid, 0)
    query = (
        select(
            people.c.organization,
            func.count().label("people"),
            func.sum(dues.c.due).label("due"),
            func.sum(amount_paid).label("paid"),
            func.sum(case((amount_paid >= dues.c.due, 1), else_=0)).label("covered"),
        )
        .select_from(people)
        .join(dues, and_(dues.c.psn_no == people.c.psn_no, dues.c.latest == 1))
        .outerjoin(paid, paid.c.psn_no == people.c.psn_no)
        .group_by(people.c.organization)
    )
    return [
        Collection(
            row.organization or "",
            int(row.people),
            _money(row.due),
            _money(row.paid),
            int(row.covered or 0),
        )
        for row in await session.execute(query)
    ]


async def paid_per_day(
    session: AsyncSession, year: int, scope: Scope, organization: str | None
) -> dict[date, Decimal]:
    """What was paid (less refunds) for ``year`` on each China-time day, inside ``scope``."""
    r, p = registrations.c, payments.c
    day = _china_day(session, p.paid_at).label("day")
    query = (
        select(day, func.sum(_signed_amount()).label("paid"))
        .select_from(
            payments.join(
                registrations,
                and_(r.psn_no == p.psn_no, r.insurance_year == p.insurance_year),
            )
        )
        .where(p.insurance_year == year, in_scope(scope))
        .group_by(day)
    )
    if organization is not None:
        query = query.where(r.organization == organization)
    found = {}
    for row in await session.execute(query):
        value = row.day if isinstance(row.day, date) else date.fromisoformat(str(row.day))
        found[value] = _money(row.paid)
    return found


async def years(session: AsyncSession, scope: Scope) -> list[int]:
    """The insurance years with registrations inside ``scope``, newest first."""
    r = registrations.c
    query = select(r.insurance_year).where(in_scope(scope)).distinct()
    return sorted((int(y) for y in (await session.execute(query)).scalars()), reverse=True)


async def special_by_identity(session: AsyncSession, scope: Scope) -> dict[str, int]:
    """Special persons (ever special or flagged) per identity as last recorded."""
    e = events.c
    latest = (
        select(
            e.psn_no,
            _field(session, "identity").label("identity"),
            func.row_number()
            .over(partition_by=e.psn_no, order_by=e.stream_version.desc())
            .label("latest"),
        )
        .join(special_persons, special_persons.c.psn_no == e.psn_no)
        .where(e.event_type.in_(("registered", "identity-changed", "carried-over")))
        .cte("latest")
    )
    query = select(latest.c.identity, func.count().label("people")).where(latest.c.latest == 1)
    if not scope.everything:
        query = query.where(
            select(registrations.c.psn_no)
            .where(registrations.c.psn_no == latest.c.psn_no, in_scope(scope))
            .exists()
        )
    rows = await session.execute(query.group_by(latest.c.identity))
    return {str(row.identity): int(row.people) for row in rows}


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
