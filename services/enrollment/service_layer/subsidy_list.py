"""The list of subsidies granted for a year (to pay out: status ``payable``), as rows.

A caller sees the subsidies of the people whose registration for the year lies in its scope
(a district: its region prefix); ID numbers are masked unless the role needs them whole. The
download is audited with the number of rows.
"""

from __future__ import annotations

from typing import Any

from services.enrollment.domain.access import Caller, Listing
from services.enrollment.domain.staff import Action
from services.enrollment.service_layer.audit import record_read
from services.enrollment.service_layer.unit_of_work import UnitOfWorkFactory
from shared.certno import mask
from shared.money import fmt

COLUMNS = (
    "psn_no",
    "certno",
    "insurance_year",
    "kind",
    "status",
    "amount",
    "tax_serial",
    "granted_at",
    "subsidy_id",
)


async def subsidy_rows(
    uow: UnitOfWorkFactory, year: int, caller: Caller, status: str | None = "payable"
) -> list[dict[str, Any]]:
    """Subsidies of ``year`` in the caller's scope (all statuses when ``status`` is None),
    oldest first; the read is audited."""
    async with uow() as work:
        rows = await work.payments.subsidies_of(year, status)
        mine = await work.registrations.within(year, {r.psn_no for r in rows}, caller.scope)
    rows = [r for r in rows if r.psn_no in mine]
    detail = {"insurance_year": year, "status": status or "all"}
    await record_read(uow, caller, Action.READ_SUBSIDIES, records=len(rows), detail=detail)
    whole = caller.whole_certnos(Listing.SUBSIDIES)
    return [
        {
            "psn_no": r.psn_no,
            "certno": r.certno if whole else mask(r.certno),
            "insurance_year": r.insurance_year,
            "kind": r.kind,
            "status": r.status,
            "amount": fmt(r.amount),
            "tax_serial": r.tax_serial,
            "granted_at": r.granted_at.isoformat(),
            # what POST /subsidies/{id}/paid takes (SPEC §7)
            "subsidy_id": r.event_id,
        }
        for r in rows
    ]
