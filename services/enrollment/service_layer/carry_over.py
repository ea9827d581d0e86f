"""The annual carry-over list in the service (004 §一, SPEC §7): upload, read, submit, freeze.

* ``upload`` stores a department's list for the year in place of its earlier one, in one
  transaction under the year's row lock (a list being frozen takes no upload); a submitted list
  goes back to draft, since what was submitted changed.
* ``read`` merges the year's lists as they stand, within the caller's scope (a district: its
  region), with the counts per source and the conflicts left.
* ``submit`` (district) and ``freeze`` (city) move the status with one conditional UPDATE.
  Freezing then registers or updates every person of the merged list in chunks of
  ``CHUNK`` people, one transaction each; each person's part is idempotent (``carried-over`` marks
  it done), so a freeze cut short is finished by freezing again, and the answer of the completed
  freeze is kept and repeated.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from services.enrollment.domain import carry_over as rules
from services.enrollment.domain.access import Caller
from services.enrollment.domain.carry_over import CarryOverStatus, MergedPerson, ParsedCarryOver
from services.enrollment.domain.errors import DomainError
from services.enrollment.domain.staff import Action, Forbidden, Source
from services.enrollment.domain.state import fold
from services.enrollment.service_layer import unit_of_work
from services.enrollment.service_layer.counts import Counts
from services.enrollment.service_layer.persons import Context, new_psn_no
from services.enrollment.service_layer.subsidies import with_subsidies
from services.enrollment.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.certno import mask
from shared.events import CarriedOver, Event, IdentityChanged, Registered, SubsidyGranted, utcnow

CHUNK = 1000


def parse_source(raw: str) -> Source:
    try:
        return Source(raw)
    except ValueError:
        known = ", ".join(s.value for s in Source)
        raise DomainError("UNKNOWN_SOURCE", f"unknown source {raw!r}; sources: {known}") from None


async def upload(
    uow: UnitOfWorkFactory, year: int, source: Source, parsed: ParsedCarryOver, caller: Caller
) -> dict[str, Any]:
    """Store a department's list for ``year`` (replacing its earlier one); the row report."""
    if not caller.sees_source(source.value):
        raise Forbidden(f"only the {source.value} department hands in its list")

    async def handler(work: UnitOfWork) -> dict[str, Any]:
        await work.special.ensure_year(year)
        status = (await work.special.year_status(year, lock=True)).status
        rules.check_upload(status)
        rejected = len({e.row for e in parsed.errors})
        await work.special.replace_list(
            year,
            source.value,
            parsed.rows,
            rejected=rejected,
            actor=caller.event_actor,
            now=utcnow(),
        )
        if status is CarryOverStatus.SUBMITTED:
            await work.special.move(year, status, CarryOverStatus.DRAFT)
        detail = {"insurance_year": year, "source": source.value, "accepted": len(parsed.rows)}
        await work.audit.record(caller.actor, Action.UPLOAD_CARRY_OVER.value, detail=detail)
        return {
            "insurance_year": year,
            "source": source.value,
            "accepted": len(parsed.rows),
            "rejected": [
                {"row": e.row, "field": e.field, "reason": e.reason} for e in parsed.errors
            ],
        }

    return await unit_of_work.run(uow, handler)


async def read(uow: UnitOfWorkFactory, year: int, caller: Caller, ctx: Context) -> dict[str, Any]:
    """The year's merged list as it stands, within the caller's scope."""
    async with uow() as work:
        status = await work.special.year_status(year)
        rows = await work.special.rows(year)
        lists = await work.special.lists(year)
    scope = caller.scope
    rows = [r for r in rows if scope.holds(r.row.region, r.row.organization)]
    merged = rules.merge(rows, _priority(ctx, year))
    per_source = Counter(r.source for r in rows)
    return {
        "insurance_year": year,
        "status": status.status.value,
        "sources": {
            row.source: {
                "rows": per_source.get(row.source, 0),
                "uploaded_at": row.uploaded_at.isoformat(),
                "uploaded_by": row.uploaded_by,
                "rejected": row.rejected,
            }
            for row in lists
        },
        "persons": len(merged.persons) + len(merged.conflicts),
        "resolved_by_priority": merged.resolved_by_priority,
        "conflicts": [
            {"certno": mask(c.certno), "identities": {s: i.value for s, i in c.identities.items()}}
            for c in merged.conflicts
        ],
        "submitted_at": _iso(status.submitted_at),
        "submitted_by": status.submitted_by,
        "frozen_at": _iso(status.frozen_at),
        "frozen_by": status.frozen_by,
    }


async def submit(uow: UnitOfWorkFactory, year: int, caller: Caller, ctx: Context) -> dict[str, Any]:
    """The district sends the merged list to the city (no conflicts may be left)."""

    async def handler(work: UnitOfWork) -> None:
        await work.special.ensure_year(year)
        status = (await work.special.year_status(year, lock=True)).status
        merged = rules.merge(await work.special.rows(year), _priority(ctx, year))
        rules.check_submit(status, len(merged.conflicts))
        if status is CarryOverStatus.DRAFT:
            await work.special.move(
                year,
                status,
                CarryOverStatus.SUBMITTED,
                submitted_at=utcnow(),
                submitted_by=caller.event_actor,
            )
            detail = {"insurance_year": year, "persons": len(merged.persons)}
            await work.audit.record(caller.actor, Action.SUBMIT_CARRY_OVER.value, detail=detail)

    await unit_of_work.run(uow, handler)
    return await read(uow, year, caller, ctx)


@dataclass
class FreezeCounts(Counts):
    """What a freeze did, person by person."""

    registered: int = 0
    identity_set: int = 0
    already: int = 0
    on_behalf: int = 0
    refused: list[dict[str, str]] = field(default_factory=list)


async def freeze(uow: UnitOfWorkFactory, year: int, caller: Caller, ctx: Context) -> dict[str, Any]:
    """The city freezes the submitted list: every person on it carried over into ``year``."""

    async def start(work: UnitOfWork) -> dict[str, Any] | None:
        status = await work.special.year_status(year, lock=True)
        rules.check_freeze(status.status)
        if status.freeze_result is not None:
            return status.freeze_result
        if status.status is CarryOverStatus.SUBMITTED:
            await work.special.move(
                year,
                status.status,
                CarryOverStatus.FROZEN,
                frozen_at=utcnow(),
                frozen_by=caller.event_actor,
            )
            await work.audit.record(
                caller.actor, Action.FREEZE_CARRY_OVER.value, detail={"insurance_year": year}
            )
        return None

    done = await unit_of_work.run(uow, start)
    if done is not None:
        return done
    async with uow() as work:
        merged = rules.merge(await work.special.rows(year), _priority(ctx, year))
    counts = FreezeCounts()
    for begin in range(0, len(merged.persons), CHUNK):
        chunk = merged.persons[begin : begin + CHUNK]
        step = partial(_freeze_chunk, persons=chunk, year=year, ctx=ctx, caller=caller)
        counts.add(await unit_of_work.run(uow, step, attempts=5))
    result = {
        "insurance_year": year,
        "status": CarryOverStatus.FROZEN.value,
        "persons": len(merged.persons),
        "registered": counts.registered,
        "identity_set": counts.identity_set,
        "already_carried_over": counts.already,
        "paid_on_behalf": counts.on_behalf,
        "refused": counts.refused,
    }

    async def keep(work: UnitOfWork) -> dict[str, Any]:
        await work.special.keep_freeze_result(year, result)
        kept = (await work.special.year_status(year)).freeze_result
        return kept if kept is not None else result

    return await unit_of_work.run(uow, keep)


async def _freeze_chunk(
    work: UnitOfWork, *, persons: list[MergedPerson], year: int, ctx: Context, caller: Caller
) -> FreezeCounts:
    known = await work.events.psn_nos({p.row.certno for p in persons})
    streams = await work.events.load_many(set(known.values()))
    counts = FreezeCounts()
    new_events: list[Event] = []
    now = ctx.now()
    for person in persons:
        psn_no = known.get(person.row.certno)
        history = streams.get(psn_no, []) if psn_no else []
        state = fold(history)
        try:
            payloads = rules.freeze_person(state, person, year, ctx.rules_for, ctx.today())
        except DomainError as exc:
            counts.refused.append(
                {"certno": mask(person.row.certno), "code": exc.code, "reason": exc.message}
            )
            continue
        if not payloads:
            counts.already += 1
            continue
        events = with_subsidies(
            psn_no or new_psn_no(),
            state,
            payloads,
            years=[year],
            at=now,
            actor=caller.event_actor,
        )
        _count(counts, events)
        new_events += events
    await work.events.append_many(new_events)
    return counts


def _count(counts: FreezeCounts, events: list[Event]) -> None:
    kinds = {type(e.payload) for e in events}
    counts.registered += Registered in kinds
    counts.identity_set += IdentityChanged in kinds
    counts.on_behalf += any(
        isinstance(e.payload, SubsidyGranted) and e.payload.kind == "paid_on_behalf" for e in events
    )
    assert CarriedOver in kinds


def _priority(ctx: Context, year: int) -> tuple[Any, ...]:
    """The year's identity priority (premium rules of the default region), or none."""
    try:
        return ctx.rules_for("default", year).identity_priority
    except DomainError:  # no rules for the year: conflicts wait for a re-upload
        return ()


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
