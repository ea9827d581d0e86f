"""The annual rollover in the service: ``enrollment rollover --from Y --to Y+1``.

Everyone registered for Y is read a page at a time (by psn_no) and folded; those the domain says
are due (covered in Y, alive, not registered for Y+1: ``domain.rollover``) are registered for Y+1
with their category, region, organization and the identity they hold, one transaction per page,
events by the caller. Running it again registers nobody twice (the registration for Y+1 exists).
A system job: it is not bound by the registration window (it carries existing cover over), and
it settles the subsidies the new year's registration brings (a special person's on-behalf
premium, 004 §二(二)1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from services.enrollment.domain.access import Caller
from services.enrollment.domain.errors import DomainError
from services.enrollment.domain.rollover import roll_over
from services.enrollment.domain.staff import Action
from services.enrollment.domain.state import fold
from services.enrollment.service_layer import unit_of_work
from services.enrollment.service_layer.persons import Context
from services.enrollment.service_layer.subsidies import with_subsidies
from services.enrollment.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.events import Event

PAGE = 1000


@dataclass
class RolloverReport:
    """What a rollover did."""

    from_year: int
    to_year: int
    read: int = 0
    registered: int = 0
    refused: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "from": self.from_year,
            "to": self.to_year,
            "read": self.read,
            "registered": self.registered,
            "refused": self.refused,
        }


async def rollover(
    uow: UnitOfWorkFactory, from_year: int, to_year: int, ctx: Context, caller: Caller
) -> RolloverReport:
    """Register for ``to_year`` (= ``from_year`` + 1) everyone due; see the module."""
    if to_year != from_year + 1:
        raise DomainError("INVALID_ROLLOVER", "a rollover goes from one year to the next")
    report = RolloverReport(from_year, to_year)
    after = ""
    while True:
        async with uow() as work:
            page = await work.events.registered_after(from_year, after, PAGE)
        if not page:
            return report
        step = partial(_page, psn_nos=page, from_year=from_year, ctx=ctx, caller=caller)
        registered, refused = await unit_of_work.run(uow, step, attempts=5)
        report.read += len(page)
        report.registered += registered
        for code, n in refused.items():
            report.refused[code] = report.refused.get(code, 0) + n
        after = page[-1]


async def _page(
    work: UnitOfWork, *, psn_nos: list[str], from_year: int, ctx: Context, caller: Caller
) -> tuple[int, dict[str, int]]:
    streams = await work.events.load_many(psn_nos)
    new_events: list[Event] = []
    refused: dict[str, int] = {}
    registered = 0
    now = ctx.now()
    for psn_no in psn_nos:
        state = fold(streams.get(psn_no, []))
        if state is None:
            continue
        try:
            payloads = roll_over(state, from_year, ctx.rules_for, ctx.today())
        except DomainError as exc:  # e.g. no premium rules for the new year in that region
            refused[exc.code] = refused.get(exc.code, 0) + 1
            continue
        events = with_subsidies(
            psn_no, state, payloads, years=[from_year + 1], at=now, actor=caller.event_actor
        )
        registered += bool(events)
        new_events += events
    await work.events.append_many(new_events)
    if registered:
        detail = {"rollover": f"{from_year}->{from_year + 1}", "registered": registered}
        await work.audit.record(
            caller.actor, Action.REGISTER.value, records=registered, detail=detail
        )
    return registered, refused
