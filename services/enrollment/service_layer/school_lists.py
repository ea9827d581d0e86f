"""Register a school list: good rows in chunks, one transaction per chunk, idempotent.

A chunk of rows is registered with a handful of statements (lookups by ``IN``, inserts as
``executemany``) instead of a transaction per person, which is what makes 100,000 rows a minute
possible. The rules are the domain's own (``domain.register``, premium rules as data); the rows
written are the event store's (``events``, ``certno_index``, ``registrations``, ``outbox``), with
the same unique keys guarding them. A person already registered for the year is left as is, so
importing a file again changes nothing. When a chunk trips a unique key (another writer registered
one of its people at the same moment) it is rolled back and re-run: the re-run sees that writer's
rows and skips them.

The import acts for a ``Caller``: a row outside its scope (a town importing another
organization's pupils) is refused with its reason, and so is a person another organization holds
for that year or a later one. The events name the file as their actor (``import:<12 hex>`` of its
SHA-256); each chunk's audit row names the caller and the file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from services.enrollment import metrics
from services.enrollment.domain import person as domain
from services.enrollment.domain.access import Caller
from services.enrollment.domain.errors import DomainError
from services.enrollment.domain.school_lists import ListRow, ParsedList, RowError
from services.enrollment.domain.staff import Action
from services.enrollment.domain.state import PersonState, apply, fold
from services.enrollment.service_layer import unit_of_work
from services.enrollment.service_layer.persons import (
    OUT_OF_WINDOW,
    WINDOW_NOTE,
    new_psn_no,
    rules_from_directory,
)
from services.enrollment.service_layer.subsidies import with_subsidies
from services.enrollment.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.errors import CodedError
from shared.events import SYSTEM_ACTOR, Event, import_actor, utcnow

CHUNK_ROWS = 1000
Progress = Callable[[int], None]
OUTSIDE_SCOPE = "this organization or region is outside your scope"
ELSEWHERE = "registered by another organization for this year or a later one"


@dataclass
class ImportReport:
    """What an import did: counts, and every refused row with its field and reason."""

    insurance_year: int
    rows: int = 0
    registered: int = 0
    already_registered: int = 0
    out_of_window: int = 0
    errors: list[RowError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "insurance_year": self.insurance_year,
            "rows": self.rows,
            "registered": self.registered,
            "already_registered": self.already_registered,
            "out_of_window": self.out_of_window,
            "rejected": len({e.row for e in self.errors}),
            "errors": [{"row": e.row, "field": e.field, "reason": e.reason} for e in self.errors],
        }


def _field_of(code: str) -> str:
    return {
        "OUTSIDE_SCOPE": "organization",
        "REGISTERED_ELSEWHERE": "certno",
        "INVALID_CERTNO": "certno",
        "INVALID_NAME": "name",
        "INVALID_REGION": "region",
        "NO_PREMIUM_RULES": "region",
        "FORBIDDEN": "insurance_year",
    }.get(code, "insurance_year")


@dataclass(frozen=True)
class ImportBy:
    """Who imports (scope and audit) and the file's event actor (``import:<12 hex>``)."""

    caller: Caller
    actor: str

    @classmethod
    def file(cls, caller: Caller, data: bytes) -> ImportBy:
        """``caller`` importing the file whose bytes are ``data``."""
        return cls(caller, import_actor(data))

    @classmethod
    def system(cls) -> ImportBy:
        """A job importing rows it made itself (no file): city-wide, events by ``system``."""
        return cls(Caller.system(), SYSTEM_ACTOR)


async def import_rows(
    uow: UnitOfWorkFactory,
    parsed: ParsedList,
    insurance_year: int,
    rules_dir: Path,
    *,
    by: ImportBy,
    now: datetime | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
) -> ImportReport:
    """Register every valid row for ``insurance_year``; report the refused ones.

    ``progress(n)`` is called after each chunk with the number of rows it covered. ``now`` is
    the business time of the registrations (default: the clock).
    """
    now = now or utcnow()
    report = ImportReport(insurance_year, rows=parsed.total, errors=list(parsed.errors))
    rules_for = rules_from_directory(rules_dir)
    for start in range(0, len(parsed.rows), chunk_rows):
        chunk = parsed.rows[start : start + chunk_rows]
        registered, existing, late, errors = await unit_of_work.run(
            uow,
            partial(
                _import_chunk,
                chunk=chunk,
                year=insurance_year,
                rules_for=rules_for,
                now=now,
                by=by,
            ),
            attempts=5,
        )
        report.registered += registered
        report.already_registered += existing
        report.out_of_window += late
        report.errors.extend(errors)
        if progress:
            progress(len(chunk))
    report.errors.sort(key=lambda e: e.row)
    metrics.LIST_ROWS.labels("registered").inc(report.registered)
    metrics.LIST_ROWS.labels("already_registered").inc(report.already_registered)
    metrics.LIST_ROWS.labels("rejected").inc(len({e.row for e in report.errors}))
    return report


async def _import_chunk(
    uow: UnitOfWork,
    *,
    chunk: list[ListRow],
    year: int,
    rules_for: domain.RulesFor,
    now: datetime,
    by: ImportBy,
) -> tuple[int, int, int, list[RowError]]:
    known = await uow.events.psn_nos({row.certno for row in chunk})
    # A city-wide import need not load the people already registered for the year; a scoped one
    # loads them too, to tell its own people from another organization's.
    everywhere = by.caller.scope.everything
    done = await uow.events.registered_for(year, known.values()) if everywhere else set()
    # People known from other years: their state decides (e.g. the dead are refused).
    streams = await uow.events.load_many({p for p in known.values() if p not in done})
    errors: list[RowError] = []
    new_events: list[Event] = []
    late: list[str] = []
    existing = registered = 0
    for row in chunk:
        psn_no = known.get(row.certno)
        if psn_no in done:
            existing += 1
            continue
        state = fold(streams.get(psn_no, [])) if psn_no else None
        try:
            new, outside = _register_row(
                row, state, psn_no, year=year, rules_for=rules_for, now=now, by=by
            )
        except CodedError as exc:  # a rule's refusal, or a late row its importer may not take
            errors.append(RowError(row.row, _field_of(exc.code), exc.message))
            continue
        new_events.extend(new)
        registered += bool(new)
        existing += not new
        if outside and new:
            late.append(new[0].psn_no)
    await uow.events.append_many(new_events)
    await uow.special.flag_registrations(
        late, year, OUT_OF_WINDOW, WINDOW_NOTE, by.caller.event_actor, now
    )
    await _audit_chunk(uow, by, year, len(chunk), registered, existing, len(errors))
    return registered, existing, len(late), errors


def _register_row(
    row: ListRow,
    state: PersonState | None,
    psn_no: str | None,
    *,
    year: int,
    rules_for: domain.RulesFor,
    now: datetime,
    by: ImportBy,
) -> tuple[list[Event], bool]:
    """The row's events ([] when already registered) and whether it is outside the year's
    registration window; or the refusal (raised)."""
    if not by.caller.sees(region=row.region, organization=row.organization):
        raise DomainError("OUTSIDE_SCOPE", OUTSIDE_SCOPE)
    payloads = domain.register(state, _registration(row, year), rules_for, now.date())
    outside = bool(payloads) and domain.outside_window(
        rules_for(row.region, year), payloads[0], now.date()
    )
    if outside:  # only the district (or a city-wide job) takes a late registration
        by.caller.check(Action.REGISTER_LATE)
    new = with_subsidies(
        psn_no or new_psn_no(), state, payloads, years=[year], at=now, actor=by.actor
    )
    if by.caller.scope.everything:
        return new, outside
    person = state
    for event in new:
        person = apply(person, event)
    if person is not None and not by.caller.sees_person(person):
        raise DomainError("REGISTERED_ELSEWHERE", ELSEWHERE)
    return new, outside


async def _audit_chunk(
    uow: UnitOfWork,
    by: ImportBy,
    year: int,
    rows: int,
    registered: int,
    existing: int,
    refused: int,
) -> None:
    """The chunk's audit row, in its transaction: who imported which file, and what it did."""
    if not registered:
        return
    detail = {
        "file": by.actor.removeprefix("import:"),
        "insurance_year": year,
        "rows": rows,
        "registered": registered,
        "already_registered": existing,
        "rejected": refused,
    }
    action = Action.IMPORT_LIST.value
    await uow.audit.record(by.caller.actor, action, records=registered, detail=detail)


def _registration(row: ListRow, year: int) -> domain.Registration:
    return domain.Registration(
        certno=row.certno,
        name=row.name,
        category=row.category,
        region=row.region,
        organization=row.organization,
        insurance_year=year,
        identity=row.identity,
    )
