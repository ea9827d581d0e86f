"""Basic data from the store: every person registered for a year, what they owe, who pays.

Read in pages of people (their streams folded by the domain), so a year of hundreds of thousands
never sits in memory at once. ``publish`` queues one message per person on
``enrollment.basic-data`` (key ``psn_no``) through the outbox, in one transaction per page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.enrollment.adapters.bulk_store import add_messages, load_streams
from services.enrollment.adapters.tables import registrations
from services.enrollment.domain import person as domain
from services.enrollment.domain import subsidies
from services.enrollment.domain.basic_data import BasicDataRow, message
from shared.events import TOPIC_BASIC_DATA

PAGE = 1000


def row_for(state: domain.PersonState, year: int) -> BasicDataRow:
    """The basic-data line of a person registered for ``year``."""
    record = state.years[year]
    return BasicDataRow(
        psn_no=state.psn_no,
        certno=state.certno,
        name=state.name,
        insurance_year=year,
        category=record.category,
        identity=record.identity,
        region=record.region,
        organization=record.organization,
        premium_due=record.premium_due,
        payer=subsidies.basic_data_payer(subsidies.rule_for_person(state, year)),
    )


async def pages(
    sessionmaker: async_sessionmaker[Any], year: int, *, page: int = PAGE
) -> AsyncIterator[list[BasicDataRow]]:
    """The rows for ``year`` in pages, ordered by psn_no."""
    after = ""
    while True:
        async with sessionmaker() as session:
            psn_nos = list(
                (
                    await session.execute(
                        select(registrations.c.psn_no)
                        .where(
                            registrations.c.insurance_year == year,
                            registrations.c.psn_no > after,
                        )
                        .order_by(registrations.c.psn_no)
                        .limit(page)
                    )
                ).scalars()
            )
            if not psn_nos:
                return
            streams = await load_streams(session, psn_nos)
        rows = []
        for psn_no in psn_nos:
            state = domain.fold(streams.get(psn_no, []))
            if state is not None and year in state.years:
                rows.append(row_for(state, year))
        yield rows
        after = psn_nos[-1]


async def all_rows(sessionmaker: async_sessionmaker[Any], year: int) -> list[BasicDataRow]:
    return [row async for chunk in pages(sessionmaker, year) for row in chunk]


async def publish(sessionmaker: async_sessionmaker[Any], year: int) -> int:
    """Queue every row of ``year`` for ``enrollment.basic-data``; returns how many."""
    count = 0
    async for chunk in pages(sessionmaker, year):
        async with sessionmaker() as session, session.begin():
            await add_messages(
                session,
                [(TOPIC_BASIC_DATA, row.psn_no, message(row).decode()) for row in chunk],
            )
        count += len(chunk)
    return count
