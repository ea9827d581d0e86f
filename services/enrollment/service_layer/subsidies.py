"""Subsidies in the service: the events that follow a change, the on-behalf list, the payouts.

* ``with_subsidies`` numbers a decision's events and appends the subsidy events they bring
  (``domain.subsidies.settle``): every writer that can change what a person is entitled to —
  registration, identity change, carry-over, assistance list — ends its decision with it, so a
  subsidy answers the later of payment and identity whichever came first.
* ``on_behalf_rows`` is the list the district sends the tax bureau (代缴): the premiums to pay on
  people's behalf for a year, within the caller's scope, ID numbers masked unless the role needs
  them whole; its download is audited.
* ``record_payout`` is the district recording that a subsidy was paid out (``paid``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from services.enrollment.domain import subsidies
from services.enrollment.domain.access import Caller, Listing
from services.enrollment.domain.errors import DomainError
from services.enrollment.domain.staff import Action
from services.enrollment.domain.state import PersonState, apply, fold, numbered
from services.enrollment.service_layer import unit_of_work
from services.enrollment.service_layer.audit import record_read
from services.enrollment.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.certno import mask
from shared.events import Event, EventPayload
from shared.money import fmt

ON_BEHALF_COLUMNS = (
    "subsidy_id",
    "psn_no",
    "certno",
    "insurance_year",
    "region",
    "organization",
    "amount",
    "granted_at",
)


def with_subsidies(
    psn_no: str,
    state: PersonState | None,
    payloads: Sequence[EventPayload],
    *,
    years: Iterable[int],
    at: datetime,
    actor: str,
) -> list[Event]:
    """``payloads`` numbered after ``state`` (None: a new person), then the subsidy events they
    bring for ``years`` (``[]`` when there is nothing to append)."""
    if not payloads:
        return []
    events = numbered(psn_no, state.version if state else 0, payloads, at, actor=actor)
    after = state
    for event in events:
        after = apply(after, event)
    assert after is not None
    extra = subsidies.settle(after, years, at)
    return events + numbered(psn_no, after.version, extra, at, actor=actor)


class SubsidyNotFound(DomainError):
    def __init__(self, subsidy_id: str) -> None:
        super().__init__("SUBSIDY_NOT_FOUND", f"no subsidy {subsidy_id}")


async def on_behalf_rows(uow: UnitOfWorkFactory, year: int, caller: Caller) -> list[dict[str, Any]]:
    """The on-behalf list of ``year`` in the caller's scope (audited as a bulk export)."""
    async with uow() as work:
        rows = await work.special.on_behalf(year)
        # the year's registration decides whose list it is, as for every list of a year
        mine = await work.registrations.within(year, {r.psn_no for r in rows}, caller.scope)
        places = await work.registrations.places(mine)
    whole = caller.whole_certnos(Listing.SUBSIDIES)
    out = []
    for r in rows:
        if r.psn_no in mine:
            region, organization = places.get(r.psn_no, (None, None))
            out.append(
                {
                    "subsidy_id": r.event_id,
                    "psn_no": r.psn_no,
                    "certno": r.certno if whole else mask(r.certno),
                    "insurance_year": r.insurance_year,
                    "region": region,
                    "organization": organization,
                    "amount": fmt(r.amount),
                    "granted_at": r.granted_at.isoformat(),
                }
            )
    detail = {"list": "on_behalf", "insurance_year": year}
    await record_read(uow, caller, Action.READ_SUBSIDIES, records=len(out), detail=detail)
    return out


async def record_payout(
    uow: UnitOfWorkFactory,
    subsidy_id: str,
    *,
    paid_on: date,
    reference: str,
    caller: Caller,
    today: date,
) -> dict[str, Any]:
    """Record a subsidy's payout; the subsidy as it stands after it."""

    async def handler(work: UnitOfWork) -> dict[str, Any]:
        row = await work.special.subsidy(subsidy_id)
        if row is None:
            raise SubsidyNotFound(subsidy_id)
        history = await work.events.load(row.psn_no)
        state = fold(history)
        if state is None or not caller.sees_person(state):
            raise SubsidyNotFound(subsidy_id)  # outside the scope: not theirs to learn
        new = subsidies.record_payout(
            state, subsidy_id, paid_on=paid_on, reference=reference, today=today
        )
        events = numbered(row.psn_no, len(history), new, actor=caller.event_actor)
        await work.events.append_many(events)
        if events:
            detail = {"subsidy_id": subsidy_id, "reference": reference.strip()}
            await work.audit.record(
                caller.actor, Action.PAY_SUBSIDIES.value, psn_no=row.psn_no, detail=detail
            )
        # recorded already: the answer is the payout as it was first recorded
        paid = (paid_on, reference.strip()) if events else (row.paid_on, row.reference)
        return {
            "subsidy_id": subsidy_id,
            "psn_no": row.psn_no,
            "insurance_year": row.insurance_year,
            "kind": row.kind,
            "amount": fmt(row.amount),
            "status": "paid",
            "paid_on": paid[0].isoformat() if paid[0] else None,
            "reference": paid[1],
        }

    return await unit_of_work.run(uow, handler)
