"""Hospital statements of a month for staff (SPEC §10): the figures of ``statements.py``.

The same function that answers NHSA 3201 makes these, so a hospital's monthly statement and the
platform's totals reconciliation agree to the fen. This module only picks the month and the
hospitals and pairs each statement with who the hospital is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncEngine

from services.settlement.adapters import hospitals as registry
from services.settlement.adapters.hospitals import Hospital
from services.settlement.adapters.statement_lines import LedgerLines
from services.settlement.errors import NotFound
from services.settlement.service_layer.statements import (
    Statement,
    month_period,
    statement,
    statements,
)


@dataclass(frozen=True, slots=True)
class HospitalStatement:
    """A hospital and its statement of the month."""

    hospital: Hospital
    statement: Statement


@dataclass(frozen=True, slots=True)
class MonthStatements:
    """Every statement asked for, for the month starting ``first``."""

    first: date
    last: date
    hospitals: tuple[HospitalStatement, ...]


async def month_statements(
    engine: AsyncEngine, first: date, hospital_code: str | None = None
) -> MonthStatements:
    """The month's statement of one hospital (``NotFound`` for an unknown code) or of every
    registered hospital, idle ones with zero figures."""
    start, end = month_period(first.year, first.month)
    async with engine.connect() as conn:
        known = await registry.list_all(conn)
    reader = LedgerLines(engine)
    if hospital_code is not None:
        hospital = next((h for h in known if h.code == hospital_code), None)
        if hospital is None:
            raise NotFound("UNKNOWN_HOSPITAL", f"no hospital {hospital_code}")
        found = await statement(reader, hospital.id, start, end)
        return MonthStatements(start, end, (HospitalStatement(hospital, found),))
    by_id = await statements(reader, start, end)
    return MonthStatements(
        start,
        end,
        tuple(
            HospitalStatement(h, by_id.get(h.id) or Statement(h.id, start, end))
            for h in sorted(known, key=lambda h: h.code)
        ),
    )
