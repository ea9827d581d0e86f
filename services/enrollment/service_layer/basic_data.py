"""Basic data from the store: every person registered for a year, what they owe, who pays.

Read in pages of people (their streams folded by the domain), so a year of hundreds of thousands
never sits in memory at once. ``publish`` queues one message per person on
``enrollment.basic-data`` (key ``psn_no``) through the outbox, in one transaction per page.

Both read the registrations inside the caller's scope only. The rows a caller downloads carry
whole ID numbers only where the role needs them (``tax``; SPEC §8), masked otherwise; the
messages published are for the tax bureau's system and carry them whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

from services.enrollment.domain import subsidies
from services.enrollment.domain.access import Caller, Listing, Scope
from services.enrollment.domain.basic_data import BasicDataRow, message
from services.enrollment.domain.staff import Action
from services.enrollment.domain.state import PersonState, fold
from services.enrollment.service_layer.audit import record_read
from services.enrollment.service_layer.unit_of_work import UnitOfWorkFactory
from shared.certno import mask
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


async def _pages(
    uow: UnitOfWorkFactory, year: int, scope: Scope, page: int = PAGE
) -> AsyncIterator[list[BasicDataRow]]:
    """The rows for ``year`` inside ``scope`` in pages, ordered by psn_no (certnos whole)."""
    after = ""
    while True:
        async with uow() as work:
            psn_nos = await work.registrations.after(year, after, page, scope)
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


async def pages(
    uow: UnitOfWorkFactory, year: int, caller: Caller, *, page: int = PAGE
) -> AsyncIterator[list[BasicDataRow]]:
    """What ``caller`` may download of ``year``, in pages; ID numbers masked unless the role
    needs them whole."""
    whole = caller.whole_certnos(Listing.BASIC_DATA)
    async for rows in _pages(uow, year, caller.scope, page):
        yield rows if whole else [replace(row, certno=mask(row.certno)) for row in rows]


async def export(
    uow: UnitOfWorkFactory, year: int, caller: Caller, *, detail: dict[str, str] | None = None
) -> AsyncIterator[list[BasicDataRow]]:
    """``pages`` of a download, after its audit row (the rows it holds) is committed."""
    async with uow() as work:
        records = await work.registrations.count(year, caller.scope)
    details = {"insurance_year": year, **(detail or {})}
    await record_read(uow, caller, Action.READ_BASIC_DATA, records=records, detail=details)
    return pages(uow, year, caller)


async def all_rows(uow: UnitOfWorkFactory, year: int, caller: Caller) -> list[BasicDataRow]:
    return [row async for chunk in await export(uow, year, caller) for row in chunk]


async def publish(uow: UnitOfWorkFactory, year: int, caller: Caller) -> int:
    """Queue every row of ``year`` in the caller's scope for ``enrollment.basic-data``; returns
    how many. The audit row goes with the first page's messages (the number to be queued)."""
    count, first = 0, True
    async for chunk in _pages(uow, year, caller.scope):
        async with uow() as work:
            if first:
                records = await work.registrations.count(year, caller.scope)
                detail = {"insurance_year": year}
                action = Action.PUBLISH_BASIC_DATA.value
                await work.audit.record(caller.actor, action, records=records, detail=detail)
            await work.events.enqueue(
                [(TOPIC_BASIC_DATA, row.psn_no, message(row).decode()) for row in chunk]
            )
            await work.commit()
        count, first = count + len(chunk), False
    return count
