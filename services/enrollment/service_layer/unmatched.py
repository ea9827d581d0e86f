"""The unmatched tax messages a caller may see (SPEC §8), ID numbers masked, the read audited.

City-wide roles see the whole list. A district sees the messages of its region: a message whose
certno belongs to a registered person goes where that person's latest registration puts them;
one whose certno nobody holds, where the number was issued (its first six digits, the area
code). A message without a readable certno is for the city-wide roles only.
"""

from __future__ import annotations

import json
from typing import Any

from services.enrollment.domain.access import Caller
from services.enrollment.domain.staff import Action
from services.enrollment.service_layer.audit import record_read
from services.enrollment.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.certno import redact

SCOPED_WINDOW = 10_000
"""A scoped caller's list is filtered from the first this many rows (the route's largest page)."""


def _certno(raw: bytes) -> str | None:
    try:
        message = json.loads(raw)
    except ValueError:
        return None
    value = message.get("certno") if isinstance(message, dict) else None
    return value.strip().upper() if isinstance(value, str) else None


async def _visible(work: UnitOfWork, caller: Caller, rows: list[Any]) -> list[Any]:
    """The rows inside the caller's scope."""
    certnos = {r.id: _certno(bytes(r.raw)) for r in rows}
    holders = await work.events.psn_nos({c for c in certnos.values() if c})
    places = await work.registrations.places(holders.values())
    scope = caller.scope
    kept = []
    for row in rows:
        certno = certnos[row.id]
        if certno is None:
            continue
        psn_no = holders.get(certno)
        region, organization = places.get(psn_no, (None, None)) if psn_no else (certno[:6], None)
        if scope.holds(region, organization):
            kept.append(row)
    return kept


async def unmatched_rows(
    uow: UnitOfWorkFactory, caller: Caller, resolved: bool | None, limit: int
) -> list[dict[str, Any]]:
    """The list as the caller may see it, oldest first; the read is audited."""
    async with uow() as work:
        if caller.scope.everything:
            rows = await work.payments.unmatched_list(resolved, limit)
        else:
            rows = await work.payments.unmatched_list(resolved, SCOPED_WINDOW)
            rows = (await _visible(work, caller, rows))[:limit]
    detail = {"resolved": resolved}
    await record_read(uow, caller, Action.READ_UNMATCHED, records=len(rows), detail=detail)
    return [
        {
            "id": r.id,
            "tax_serial": r.tax_serial,
            "reason": r.reason,
            "message": redact(r.message),
            "raw": redact(bytes(r.raw).decode("utf-8", errors="replace")),
            "received_at": r.received_at.isoformat(),
            "resolved_at": r.resolved_at.isoformat() if r.resolved_at else None,
            "resolution": r.resolution,
        }
        for r in rows
    ]
