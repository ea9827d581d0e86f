"""The enrollment console's sums, caught up from the event store (migration 0008).

A city's year of registrations is hundreds of thousands of events whose category, premium due
and identity sit in JSON payloads: no page can add them up as it is asked. These tables hold the
console's figures, kept by folding the events appended since the last catch-up
(``domain.console_lines``) — exactly, by event position (``shared.catch_up``), off the write
path (no registration or payment updates a summary row others would queue on):

* ``console_person_years`` / ``console_standing`` — what the console keeps of each person (a
  line per registration, the identity as last recorded), to know what an event changes;
* ``console_collection`` — per year, region, organization and category: people, due, paid,
  covered (amounts in fen);
* ``console_paid_days`` — per year, region, organization and China-time day: paid less refunded;
* ``console_special`` — special persons per identity as last recorded, region, organization.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    any_,
    cast,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.enrollment.adapters.tables import UtcDateTime, events, metadata, person_year
from services.enrollment.domain.console_lines import (
    PaidOn,
    PersonView,
    Standing,
    YearLine,
    apply,
    collection_changes,
    special_changes,
)
from shared import catch_up as catch_up_by_id

NAME = "console"
CHUNK = 5000
COUNTED = ("registered", "identity-changed", "carried-over", "premium-due-changed",
           "premium-paid", "premium-refunded")  # fmt: skip

console_positions = Table(
    "console_positions",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("last_id", BigInteger, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
console_person_years = Table(
    "console_person_years",
    metadata,
    *person_year(),
    Column("region", String(12), nullable=False),
    Column("organization", String(200), nullable=False),
    Column("category", String(20), nullable=False),
    Column("due", BigInteger, nullable=False),  # fen
    Column("paid", BigInteger, nullable=False),  # fen
)
console_standing = Table(
    "console_standing",
    metadata,
    Column("psn_no", String(32), primary_key=True),
    Column("identity", String(30), nullable=False),
    Column("assistance", Boolean, nullable=False),
    Column("region", String(12), nullable=False),
    Column("organization", String(200), nullable=False),
    Column("latest_year", Integer, nullable=False),
)
console_collection = Table(
    "console_collection",
    metadata,
    Column("insurance_year", Integer, nullable=False),
    Column("region", String(12), nullable=False),
    Column("organization", String(200), nullable=False),
    Column("category", String(20), nullable=False),
    Column("people", BigInteger, nullable=False),
    Column("due", BigInteger, nullable=False),
    Column("paid", BigInteger, nullable=False),
    Column("covered", BigInteger, nullable=False),
    PrimaryKeyConstraint("insurance_year", "region", "organization", "category"),
)
console_paid_days = Table(
    "console_paid_days",
    metadata,
    Column("insurance_year", Integer, nullable=False),
    Column("region", String(12), nullable=False),
    Column("organization", String(200), nullable=False),
    Column("day", Date, nullable=False),
    Column("paid", BigInteger, nullable=False),
    PrimaryKeyConstraint("insurance_year", "region", "organization", "day"),
)
console_special = Table(
    "console_special",
    metadata,
    Column("identity", String(30), nullable=False),
    Column("region", String(12), nullable=False),
    Column("organization", String(200), nullable=False),
    Column("people", BigInteger, nullable=False),
    PrimaryKeyConstraint("identity", "region", "organization"),
)


async def catch_up(engine: AsyncEngine, budget: float | None = None) -> int | None:
    """Fold the events appended since the last catch-up into the sums; the position summed up
    to, or None when the sums are not current: the event store's lock was not granted in time,
    or ``budget`` seconds were spent (a page's share; the first catch-up of a city's event
    store takes minutes: ``enrollment console-sums`` does it at once)."""
    summed = await catch_up_by_id.nothing_new(engine, console_positions, NAME, "events", "position")
    if summed is not None:
        return summed
    upto = await catch_up_by_id.committed_upto(engine, "events", "position")
    if upto is None:
        return None
    deadline = None if budget is None else time.monotonic() + budget
    while True:  # a chunk a transaction
        async with engine.begin() as conn:
            after = await catch_up_by_id.claim(conn, console_positions, NAME)
            if after >= upto:
                return after
            reached = await _fold_chunk(conn, after, upto)
            await catch_up_by_id.advance(conn, console_positions, NAME, reached)
        if deadline is not None and time.monotonic() > deadline and reached < upto:
            return None


async def _fold_chunk(conn: AsyncConnection, after: int, upto: int) -> int:
    """Fold the next CHUNK counted events after ``after``; the position reached."""
    e = events.c
    rows = (
        await conn.execute(
            select(e.position, e.psn_no, e.event_type, e.payload)
            .where(e.position > after, e.position <= upto, e.event_type.in_(COUNTED))
            .order_by(e.position)
            .limit(CHUNK)
        )
    ).all()
    before = await _views(conn, {row.psn_no for row in rows})
    after_views = dict(before)
    paid: list[PaidOn] = []
    for row in rows:
        view, moved = apply(after_views[row.psn_no], row.event_type, json.loads(row.payload))
        after_views[row.psn_no] = view
        if moved is not None:
            paid.append(moved)
    changed = {p for p in after_views if after_views[p] != before[p]}
    await _store_views(conn, {p: after_views[p] for p in changed})
    await _add_sums(conn, [(before[p], after_views[p]) for p in changed], paid)
    return int(rows[-1].position) if len(rows) == CHUNK else upto


def _among(column: Any, conn: AsyncConnection, keys: list[str]) -> Any:
    """``column`` among ``keys``: one array parameter on PostgreSQL, an IN list on SQLite."""
    if conn.dialect.name == "postgresql":
        return column == any_(cast(literal(keys), postgresql.ARRAY(String)))
    return column.in_(keys)


async def _views(conn: AsyncConnection, psn_nos: set[str]) -> dict[str, PersonView]:
    wanted = sorted(psn_nos)
    lines: dict[str, dict[int, YearLine]] = {p: {} for p in wanted}
    standing: dict[str, Standing] = {}
    y, s = console_person_years.c, console_standing.c
    step = len(wanted) if conn.dialect.name == "postgresql" else 500  # SQLite: bound variables
    for start in range(0, len(wanted), max(1, step)):
        part = wanted[start : start + step]
        years = select(console_person_years).where(_among(y.psn_no, conn, part))
        for row in await conn.execute(years):
            lines[row.psn_no][row.insurance_year] = YearLine(
                row.region, row.organization, row.category, row.due, row.paid
            )
        for row in await conn.execute(select(console_standing).where(_among(s.psn_no, conn, part))):
            standing[row.psn_no] = Standing(
                row.identity, row.assistance, row.region, row.organization, row.latest_year
            )
    return {p: PersonView(lines[p], standing.get(p, Standing())) for p in wanted}


def _upsert(conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]], add: bool) -> Any:
    """INSERT … ON CONFLICT: replace the row (``add`` False) or add to its figures."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    keys = [c.name for c in table.primary_key.columns]
    figures = [c.name for c in table.columns if c.name not in keys]
    values = {
        name: (table.c[name] + statement.excluded[name]) if add else statement.excluded[name]
        for name in figures
    }
    return conn.execute(statement.on_conflict_do_update(index_elements=keys, set_=values), rows)


async def _store_views(conn: AsyncConnection, views: dict[str, PersonView]) -> None:
    years = [
        {"psn_no": p, "insurance_year": year, **vars_of(line)}
        for p, view in views.items()
        for year, line in view.lines.items()
    ]
    standing = [{"psn_no": p, **vars_of(view.standing)} for p, view in views.items()]
    if years:
        await _upsert(conn, console_person_years, years, add=False)
    if standing:
        await _upsert(conn, console_standing, standing, add=False)


def vars_of(value: Any) -> dict[str, Any]:
    return {name: getattr(value, name) for name in value.__slots__}


async def _add_sums(
    conn: AsyncConnection, people: list[tuple[PersonView, PersonView]], paid: list[PaidOn]
) -> None:
    collection: dict[tuple[int, str, str, str], list[int]] = {}
    special: dict[tuple[str, str, str], int] = {}
    for before, after in people:
        for (year, key), sums in collection_changes(before, after).items():
            total = collection.setdefault((year, *key), [0, 0, 0, 0])
            for i, n in enumerate((sums.people, sums.due, sums.paid, sums.covered)):
                total[i] += n
        for key, n in special_changes(before.standing, after.standing).items():
            special[key] = special.get(key, 0) + n
    days: dict[tuple[int, str, str, Any], int] = {}
    for moved in paid:
        key = (moved.year, moved.region, moved.organization, moved.day)
        days[key] = days.get(key, 0) + moved.fen
    names = ("insurance_year", "region", "organization", "category", "people", "due", "paid",
             "covered")  # fmt: skip
    rows = [dict(zip(names, (*k, *v), strict=True)) for k, v in sorted(collection.items())]
    if rows:
        await _upsert(conn, console_collection, rows, add=True)
    special_rows = [
        {"identity": k[0], "region": k[1], "organization": k[2], "people": n}
        for k, n in sorted(special.items())
    ]
    if special_rows:
        await _upsert(conn, console_special, special_rows, add=True)
    day_rows = [
        {"insurance_year": k[0], "region": k[1], "organization": k[2], "day": k[3], "paid": n}
        for k, n in sorted(days.items())
    ]
    if day_rows:
        await _upsert(conn, console_paid_days, day_rows, add=True)
