"""Retrying unmatched tax payments for a staff member (the console's retry button).

City-wide roles retry the whole open list (``payments.retry_unmatched``, as ``enrollment
payments retry`` does); a district retries the open messages of its own region only, as the
unmatched list shows them to it. A retry is safe to repeat: a message applied meanwhile is a
duplicate, one that still misses keeps its fresh reason. The retry is an audit row.
"""

from __future__ import annotations

from services.enrollment.domain.access import Caller
from services.enrollment.domain.staff import Action
from services.enrollment.service_layer.payments import Outcome, apply_messages, retry_unmatched
from services.enrollment.service_layer.unit_of_work import UnitOfWorkFactory
from services.enrollment.service_layer.unmatched import SCOPED_WINDOW, unmatched_rows


async def retry_for(uow: UnitOfWorkFactory, caller: Caller) -> Outcome:
    """Replay the open unmatched messages the caller may see; what it did."""
    caller.check(Action.RETRY_PAYMENTS)
    if caller.scope.everything:
        outcome = await retry_unmatched(uow)
    else:
        visible = {row["id"] for row in await unmatched_rows(uow, caller, False, SCOPED_WINDOW)}
        outcome = Outcome()
        last_id = 0
        while visible:
            async with uow() as work:
                batch = await work.payments.unresolved(after_id=last_id)
            if not batch:
                break
            last_id = max(i.unmatched_id or 0 for i in batch)
            mine = [i for i in batch if i.unmatched_id in visible]
            if mine:
                outcome.add(await apply_messages(uow, mine))
    async with uow() as work:
        detail = {"applied": outcome.applied, "duplicates": outcome.duplicates}
        records = outcome.applied + outcome.duplicates + outcome.unmatched
        action = Action.RETRY_PAYMENTS.value
        await work.audit.record(caller.actor, action, records=records, detail=detail)
        await work.commit()
    return outcome
