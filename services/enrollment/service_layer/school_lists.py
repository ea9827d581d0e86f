"""Register a school list: good rows in chunks, one transaction per chunk, idempotent.

A chunk of rows is registered with a handful of statements (lookups by ``IN``, inserts as
``executemany``) instead of a transaction per person, which is what makes 100,000 rows a minute
possible. The rules are the domain's own (``domain.register``, premium rules as data); the rows
written are the event store's (``events``, ``certno_index``, ``registrations``, ``outbox``), with
the same unique keys guarding them. A person already registered for the year is left as is, so
importing a file again changes nothing. When a chunk trips a unique key (another writer registered
one of its people at the same moment) it is rolled back and re-run: the re-run sees that writer's
rows and skips them.
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
from services.enrollment.domain.errors import DomainError
from services.enrollment.domain.school_lists import ListRow, ParsedList, RowError
from services.enrollment.domain.state import fold
from services.enrollment.service_layer import unit_of_work
from services.enrollment.service_layer.persons import new_psn_no, rules_from_directory
from services.enrollment.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.events import SYSTEM_ACTOR, Event, utcnow

CHUNK_ROWS = 1000
Progress = Callable[[int], None]


@dataclass
class ImportReport:
    """What an import did: counts, and every refused row with its field and reason."""

    insurance_year: int
    rows: int = 0
    registered: int = 0
    already_registered: int = 0
    errors: list[RowError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "insurance_year": self.insurance_year,
            "rows": self.rows,
            "registered": self.registered,
            "already_registered": self.already_registered,
            "rejected": len({e.row for e in self.errors}),
            "errors": [{"row": e.row, "field": e.field, "reason": e.reason} for e in self.errors],
        }


def _field_of(code: str) -> str:
    return {
        "INVALID_CERTNO": "certno",
        "INVALID_NAME": "name",
        "INVALID_REGION": "region",
        "NO_PREMIUM_RULES": "region",
    }.get(code, "insurance_year")


async def import_rows(
    uow: UnitOfWorkFactory,
    parsed: ParsedList,
    insurance_year: int,
    rules_dir: Path,
    *,
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
        registered, existing, errors = await unit_of_work.run(
            uow,
            partial(_import_chunk, chunk=chunk, year=insurance_year, rules_for=rules_for, now=now),
            attempts=5,
        )
        report.registered += registered
        report.already_registered += existing
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
) -> tuple[int, int, list[RowError]]:
    known = await uow.events.psn_nos({row.certno for row in chunk})
    done = await uow.events.registered_for(year, known.values())
    # People known from other years: their state decides (e.g. the dead are refused).
    streams = await uow.events.load_many({p for p in known.values() if p not in done})
    errors: list[RowError] = []
    new_events: list[Event] = []
    existing = 0
    for row in chunk:
        psn_no = known.get(row.certno)
        if psn_no in done:
            existing += 1
            continue
        state = fold(streams.get(psn_no, [])) if psn_no else None
        try:
            payloads = domain.register(state, _registration(row, year), rules_for, now.date())
        except DomainError as exc:
            errors.append(RowError(row.row, _field_of(exc.code), exc.message))
            continue
        if not payloads:
            existing += 1
            continue
        psn_no = psn_no or new_psn_no()
        version = state.version + 1 if state else 1
        new_events.append(
            Event.new(
                payloads[0],
                psn_no=psn_no,
                stream_version=version,
                occurred_at=now,
                actor=SYSTEM_ACTOR,
            )
        )
    await uow.events.append_many(new_events)
    return len(new_events), existing, errors


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
