"""Rows derived from events, written by the event store in the events' own transaction.

* ``subsidies`` — a row per ``subsidy-granted`` event (its id is the event's), its status moved by
  each ``subsidy-status-changed`` (``paid`` with the payout's date and reference);
* ``special_persons`` — everyone an event ever made special or flagged for medical assistance.

Like ``registrations`` these are lookups, never the truth: the events are. Two writers cannot
race on one person's rows, since the stream's unique version already refused one of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import update

from services.enrollment.adapters.recorders import Recorder
from services.enrollment.adapters.special_tables import special_persons
from services.enrollment.adapters.tables import subsidies
from shared.events import (
    Event,
    Identity,
    IdentityChanged,
    Registered,
    SubsidyGranted,
    SubsidyStatusChanged,
)


def _special(event: Event) -> bool:
    p = event.payload
    if isinstance(p, Registered | IdentityChanged):
        return p.identity is not Identity.ORDINARY or p.medical_assistance
    return False


def _subsidy_row(event: Event) -> dict[str, Any]:
    p = event.payload
    assert isinstance(p, SubsidyGranted)
    return {
        "event_id": str(event.event_id),
        "tax_serial": p.tax_serial,
        "psn_no": event.psn_no,
        "insurance_year": p.insurance_year,
        "kind": p.kind,
        "status": p.status,
        "amount": p.amount,
        "granted_at": event.recorded_at,
    }


async def record(recorder: Recorder, new: Sequence[Event]) -> None:
    """Write the derived rows of ``new`` (already inserted into ``events``)."""
    granted = [_subsidy_row(e) for e in new if isinstance(e.payload, SubsidyGranted)]
    await recorder.insert(subsidies, granted)
    for event in new:
        p = event.payload
        if isinstance(p, SubsidyStatusChanged):
            await recorder.session.execute(
                update(subsidies)
                .where(subsidies.c.event_id == p.subsidy_id)
                .values(
                    status=p.status,
                    paid_on=p.paid_on,
                    reference=p.reference,
                    status_at=event.recorded_at,
                )
            )
    special = {e.psn_no for e in new if _special(e)}
    if special:
        key = special_persons.c.psn_no
        known = await recorder.select_in(key, special, [key])
        fresh = special - {row[0] for row in known}
        await recorder.insert(special_persons, [{"psn_no": p} for p in sorted(fresh)])
