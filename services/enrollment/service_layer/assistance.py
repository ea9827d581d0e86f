"""The monthly medical-assistance list in the service (004 §二(一)4, SPEC §7).

The list for a month replaces the flags: everyone on it who is registered for the month's year
is flagged from the 1st, everyone flagged then who is not on it is unflagged. The people looked at
are those on the list and those in the special-persons index (everyone ever special or flagged),
in chunks of ``CHUNK`` people, one transaction each. Each person's part is idempotent (a person
already as the list says gets no event), so an upload cut short is completed by uploading the
same list again, and a second upload of a list writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import Any

from services.enrollment.domain.access import Caller
from services.enrollment.domain.assistance import (
    AssistanceRow,
    ParsedAssistance,
    apply_list,
    flagged_on,
)
from services.enrollment.domain.calendar import Month, assistance_list_late
from services.enrollment.domain.errors import DomainError
from services.enrollment.domain.staff import Action, Forbidden, Source
from services.enrollment.domain.state import fold, numbered
from services.enrollment.service_layer import unit_of_work
from services.enrollment.service_layer.counts import Counts
from services.enrollment.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.certno import mask
from shared.events import Event, utcnow

CHUNK = 1000
PAGE = 5000


@dataclass
class Tally(Counts):
    flagged: int = 0
    unflagged: int = 0
    unchanged: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)


async def upload_list(
    uow: UnitOfWorkFactory,
    month: Month,
    parsed: ParsedAssistance,
    caller: Caller,
    today: date,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Apply a month's list; the answer SPEC §7 names (``flagged`` … ``late``). ``now`` is the
    business time of the events (default: the clock)."""
    if not caller.sees_source(Source.CIVIL_AFFAIRS.value):
        raise Forbidden("the monthly assistance list is civil affairs' to hand in")
    listed = {row.certno: row for row in parsed.rows}
    async with uow() as work:
        people = await work.events.psn_nos(listed)
        indexed = await _index(work)
    by_psn = {psn_no: listed[certno] for certno, psn_no in people.items()}
    everyone = sorted(set(by_psn) | indexed)
    tally = Tally()
    registered: set[str] = set()
    for begin in range(0, len(everyone), CHUNK):
        chunk = everyone[begin : begin + CHUNK]
        step = partial(
            _apply_chunk,
            psn_nos=chunk,
            listed=by_psn,
            month=month,
            caller=caller,
            registered=registered,
            now=now or utcnow(),
        )
        tally.add(await unit_of_work.run(uow, step, attempts=5))
    unknown = [
        {"row": row.row, "certno": mask(row.certno), "name": row.name}
        for row in parsed.rows
        if people.get(row.certno) not in registered
    ]
    rejected = [{"row": e.row, "field": e.field, "reason": e.reason} for e in parsed.errors]
    rejected += tally.refused
    answer = {
        "month": str(month),
        "flagged": tally.flagged,
        "unflagged": tally.unflagged,
        "unchanged": tally.unchanged,
        "unknown": unknown,
        "rejected": rejected,
        "late": assistance_list_late(month, today),
    }
    await unit_of_work.run(uow, partial(_record, month=month, answer=answer, caller=caller))
    return answer


async def _index(work: UnitOfWork) -> set[str]:
    found: set[str] = set()
    after = ""
    while page := await work.special.special_after(after, PAGE):
        found.update(page)
        after = page[-1]
    return found


async def _apply_chunk(
    work: UnitOfWork,
    *,
    psn_nos: list[str],
    listed: dict[str, AssistanceRow],
    month: Month,
    caller: Caller,
    registered: set[str],
    now: datetime,
) -> Tally:
    streams = await work.events.load_many(psn_nos)
    tally = Tally()
    new_events: list[Event] = []
    for psn_no in psn_nos:
        history = streams.get(psn_no, [])
        state = fold(history)
        if state is None:
            continue
        on_list = psn_no in listed and month.year in state.years
        if on_list:
            registered.add(psn_no)
        elif not flagged_on(state, month):
            continue  # neither listed nor flagged: nothing to say about them
        try:
            payloads = apply_list(state, on_list, month)
        except DomainError as exc:
            if on_list:  # a dead person on the list: reported; one off it just stays as is
                row = listed[psn_no].row
                tally.refused.append({"row": row, "field": "certno", "reason": exc.message})
            continue
        if not payloads:
            tally.unchanged += on_list
            continue
        tally.flagged += on_list
        tally.unflagged += not on_list
        new_events += numbered(psn_no, len(history), payloads, now, actor=caller.event_actor)
    await work.events.append_many(new_events)
    return tally


async def _record(
    work: UnitOfWork, *, month: Month, answer: dict[str, Any], caller: Caller
) -> None:
    await work.special.record_assistance_upload(
        {
            "month": str(month),
            "uploaded_at": utcnow(),
            "uploaded_by": caller.event_actor,
            "late": answer["late"],
            "flagged": answer["flagged"],
            "unflagged": answer["unflagged"],
            "unchanged": answer["unchanged"],
            "unknown": len(answer["unknown"]),
            "rejected": len(answer["rejected"]),
        }
    )
    detail = {"month": str(month), "flagged": answer["flagged"], "unflagged": answer["unflagged"]}
    await work.audit.record(caller.actor, Action.UPLOAD_ASSISTANCE.value, detail=detail)
