"""The list of subsidies granted for a year (to pay out: status ``payable``), as rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.enrollment.adapters.collection_tables import subsidies
from services.enrollment.adapters.tables import certno_index
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
    sessionmaker: async_sessionmaker[Any], year: int, status: str | None = "payable"
) -> list[dict[str, Any]]:
    """Subsidies of ``year`` (all statuses when ``status`` is None), oldest first."""
    query = (
        select(subsidies, certno_index.c.certno)
        .join(certno_index, certno_index.c.psn_no == subsidies.c.psn_no)
        .where(subsidies.c.insurance_year == year)
        .order_by(subsidies.c.granted_at, subsidies.c.tax_serial)
    )
    if status is not None:
        query = query.where(subsidies.c.status == status)
    async with sessionmaker() as session:
        rows = (await session.execute(query)).all()
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
