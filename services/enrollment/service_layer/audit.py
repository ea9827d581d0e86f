"""Audit rows of bulk reads (SPEC §8): who downloaded what, and how many records.

A write records its audit row inside its own transaction (the handlers do, through
``uow.audit``). A bulk read — basic data, subsidy lists, reports, the unmatched list — has no
write to join, so its row is committed on its own just before the rows are handed out: an export
that is answered is always in the log, with the number of records it held.
"""

from __future__ import annotations

from typing import Any

from services.enrollment.domain.access import Caller
from services.enrollment.domain.staff import Action
from services.enrollment.service_layer.unit_of_work import UnitOfWorkFactory


async def record_read(
    uow: UnitOfWorkFactory,
    caller: Caller,
    action: Action,
    *,
    records: int,
    detail: dict[str, Any] | None = None,
) -> None:
    """Commit the audit row of a bulk read of ``records`` rows by ``caller``."""
    async with uow() as work:
        await work.audit.record(caller.actor, action.value, records=records, detail=detail)
        await work.commit()
