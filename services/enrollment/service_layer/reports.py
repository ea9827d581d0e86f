"""The monthly change report in the service (004 §二(三), SPEC §7).

The people are those of the special-persons index (everyone ever special or flagged), read a page
at a time and folded; the report keeps those the caller's scope holds on the month's last day (a
town: its organization; a district: its region) and, if asked, one organization. Reading it is a
bulk export: audited with the number of lines handed out.
"""

from __future__ import annotations

from datetime import date

from services.enrollment.domain.access import Caller
from services.enrollment.domain.calendar import Month
from services.enrollment.domain.reports import MonthlyReport, monthly_report, place_on
from services.enrollment.domain.staff import Action
from services.enrollment.domain.state import PersonState, fold
from services.enrollment.service_layer.audit import record_read
from services.enrollment.service_layer.unit_of_work import UnitOfWorkFactory

PAGE = 1000


async def special_persons_report(
    uow: UnitOfWorkFactory,
    month: Month,
    caller: Caller,
    today: date,
    organization: str | None = None,
) -> MonthlyReport:
    """The month's report over the people in the caller's scope (and ``organization``)."""
    scope = caller.scope

    def keep(state: PersonState) -> bool:
        place = place_on(state, month.last)
        if place is None or not scope.holds(*place):
            return False
        return organization is None or place[1] == organization

    states: list[PersonState] = []
    async with uow() as work:
        after = ""
        while page := await work.special.special_after(after, PAGE):
            streams = await work.events.load_many(page)
            states += [s for p in page if (s := fold(streams.get(p, []))) is not None]
            after = page[-1]
    report = monthly_report(states, month, today, keep)
    detail = {"report": "special-persons", "month": str(month), "organization": organization}
    records = len(report.rows) + len(report.details)
    await record_read(uow, caller, Action.READ_REPORTS, records=records, detail=detail)
    return report
