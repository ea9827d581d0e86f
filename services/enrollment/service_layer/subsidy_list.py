"""The list of subsidies granted for a year (to pay out: status ``payable``), as rows."""

from __future__ import annotations

from typing import Any

from services.enrollment.service_layer.unit_of_work import UnitOfWorkFactory
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
)


async def subsidy_rows(
    uow: UnitOfWorkFactory, year: int, status: str | None = "payable"
) -> list[dict[str, Any]]:
    """Subsidies of ``year`` (all statuses when ``status`` is None), oldest first."""
    async with uow() as work:
        rows = await work.payments.subsidies_of(year, status)
    return [
        {
            "psn_no": r.psn_no,
            "certno": r.certno,
            "insurance_year": r.insurance_year,
            "kind": r.kind,
            "status": r.status,
            "amount": fmt(r.amount),
            "tax_serial": r.tax_serial,
            "granted_at": r.granted_at.isoformat(),
        }
        for r in rows
    ]
