"""Basic data from the store: every person registered for a year, what they owe, who pays.

Read in pages of people (their streams folded by the domain), so a year of hundreds of thousands
never sits in memory at once. ``publish`` queues one message per person on
``enrollment.basic-data`` (key ``psn_no``) through the outbox, in one transaction per page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from services.enrollment.domain import subsidies
from services.enrollment.domain.basic_data import BasicDataRow, message
from services.enrollment.domain.state import PersonState, fold
from services.enrollment.service_layer.unit_of_work import UnitOfWorkFactory
from shared.events import TOPIC_BASIC_DATA

PAGE = 1000


def row_for(state: PersonState, year: int) -> BasicDataRow:
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
    uow: UnitOfWorkFactory, year: int, *, page: int = PAGE
) -> AsyncIterator[list[BasicDataRow]]:
    """The rows for ``year`` in pages, ordered by psn_no."""
    after = ""
    while True:
        async with uow() as work:
            psn_nos = await work.events.registered_after(year, after, page)
            if not psn_nos:
                return
            streams = await work.events.load_many(psn_nos)
        rows = []
        for psn_no in psn_nos:
            state = fold(streams.get(psn_no, []))
            if state is not None and year in state.years:
                rows.append(row_for(state, year))
        yield rows
        after = psn_nos[-1]


async def all_rows(uow: UnitOfWorkFactory, year: int) -> list[BasicDataRow]:
    return [row async for chunk in pages(uow, year) for row in chunk]


async def publish(uow: UnitOfWorkFactory, year: int) -> int:
    """Queue every row of ``year`` for ``enrollment.basic-data``; returns how many."""
    count = 0
    async for chunk in pages(uow, year):
        async with uow() as work:
            await work.events.enqueue(
                [(TOPIC_BASIC_DATA, row.psn_no, message(row).decode()) for row in chunk]
            )
            await work.commit()
        count += len(chunk)
    return count
