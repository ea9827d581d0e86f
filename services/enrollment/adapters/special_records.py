"""The special persons' cycle's rows (``special_tables.py``), in the unit of work's transaction.

Carry-over lists and their year's status, the monthly assistance uploads, the special-persons
index, registration flags, and the subsidy rows the on-behalf list and payouts read. Never
commits. A status moves with one conditional UPDATE, read under a row lock where the database
has them, so two clerks cannot both submit or freeze, nor upload into a list being frozen.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update

from services.enrollment.adapters.recorders import Recorder
from services.enrollment.adapters.special_tables import (
    assistance_uploads,
    carry_over_lists,
    carry_over_rows,
    carry_over_years,
    registration_flags,
    special_persons,
)
from services.enrollment.adapters.tables import certno_index, subsidies
from services.enrollment.domain.carry_over import CarryOverRow, CarryOverStatus, SourceRow
from shared.events import Category, Identity


@dataclass(frozen=True, slots=True)
class YearStatus:
    """A carry-over year's status and who moved it."""

    status: CarryOverStatus
    submitted_at: datetime | None = None
    submitted_by: str | None = None
    frozen_at: datetime | None = None
    frozen_by: str | None = None
    freeze_result: dict[str, Any] | None = None


class SpecialRecords:
    """Carry-over, assistance and subsidy rows in the caller's transaction."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.session = recorder.session

    # --- carry-over ---------------------------------------------------------------------------

    async def year_status(self, year: int, *, lock: bool = False) -> YearStatus:
        """The year's status (``draft`` when nothing was handed in yet)."""
        query = select(carry_over_years).where(carry_over_years.c.insurance_year == year)
        row = (await self.session.execute(query.with_for_update() if lock else query)).first()
        if row is None:
            return YearStatus(CarryOverStatus.DRAFT)
        result = json.loads(row.freeze_result) if row.freeze_result else None
        return YearStatus(
            CarryOverStatus(row.status),
            row.submitted_at,
            row.submitted_by,
            row.frozen_at,
            row.frozen_by,
            result,
        )

    async def ensure_year(self, year: int) -> None:
        """Create the year's status row (``draft``); a concurrent creator makes this a conflict
        that the unit of work retries."""
        found = await self.session.scalar(
            select(carry_over_years.c.insurance_year).where(
                carry_over_years.c.insurance_year == year
            )
        )
        if found is None:
            await self.recorder.insert(
                carry_over_years, [{"insurance_year": year, "status": CarryOverStatus.DRAFT.value}]
            )

    async def move(
        self, year: int, before: CarryOverStatus, after: CarryOverStatus, **values: Any
    ) -> bool:
        """Move the status from ``before`` to ``after`` in one statement; False if it was not
        ``before`` any more."""
        c = carry_over_years.c
        result = await self.session.execute(
            update(carry_over_years)
            .where(c.insurance_year == year, c.status == before.value)
            .values(status=after.value, **values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def keep_freeze_result(self, year: int, result: dict[str, Any]) -> None:
        """Store the answer of the freeze once (a second freeze answers the stored one)."""
        c = carry_over_years.c
        await self.session.execute(
            update(carry_over_years)
            .where(c.insurance_year == year, c.freeze_result.is_(None))
            .values(freeze_result=json.dumps(result, ensure_ascii=False, sort_keys=True))
        )

    async def replace_list(
        self,
        year: int,
        source: str,
        rows: Sequence[CarryOverRow],
        *,
        rejected: int,
        actor: str,
        now: datetime,
    ) -> None:
        """A department's list for the year, replacing its earlier one."""
        c = carry_over_rows.c
        await self.session.execute(
            delete(carry_over_rows).where(c.insurance_year == year, c.source == source)
        )
        await self.session.execute(
            delete(carry_over_lists).where(
                carry_over_lists.c.insurance_year == year, carry_over_lists.c.source == source
            )
        )
        await self.recorder.insert(
            carry_over_rows, [_row_values(year, source, row) for row in rows]
        )
        await self.recorder.insert(
            carry_over_lists,
            [
                {
                    "insurance_year": year,
                    "source": source,
                    "uploaded_at": now,
                    "uploaded_by": actor,
                    "accepted": len(rows),
                    "rejected": rejected,
                }
            ],
        )

    async def lists(self, year: int) -> list[Any]:
        """Who handed in each source's list for the year, and when."""
        query = select(carry_over_lists).where(carry_over_lists.c.insurance_year == year)
        return list((await self.session.execute(query.order_by(carry_over_lists.c.source))).all())

    async def rows(self, year: int) -> list[SourceRow]:
        """Every accepted row of the year's lists."""
        c = carry_over_rows.c
        query = select(carry_over_rows).where(c.insurance_year == year).order_by(c.source, c.row)
        return [_source_row(r) for r in (await self.session.execute(query)).all()]

    # --- the monthly assistance list, the special-persons index, flags ------------------------

    async def record_assistance_upload(self, values: dict[str, Any]) -> None:
        await self.recorder.insert(assistance_uploads, [values])

    async def assistance_uploads(self, month: str) -> list[Any]:
        query = select(assistance_uploads).where(assistance_uploads.c.month == month)
        return list((await self.session.execute(query.order_by(assistance_uploads.c.id))).all())

    async def special_after(self, after: str, limit: int) -> list[str]:
        """A page of the special-persons index, by psn_no."""
        c = special_persons.c
        query = select(c.psn_no).where(c.psn_no > after).order_by(c.psn_no).limit(limit)
        return list((await self.session.execute(query)).scalars())

    async def flag_registrations(
        self,
        psn_nos: Sequence[str],
        year: int,
        flag: str,
        detail: str,
        actor: str,
        now: datetime,
    ) -> None:
        """Flag registrations (e.g. ``out_of_window``) in the registrations' transaction."""
        await self.recorder.insert(
            registration_flags,
            [
                {
                    "psn_no": psn_no,
                    "insurance_year": year,
                    "flag": flag,
                    "detail": detail,
                    "flagged_by": actor,
                    "flagged_at": now,
                }
                for psn_no in psn_nos
            ],
        )

    async def flags(self, year: int) -> list[Any]:
        c = registration_flags.c
        query = select(registration_flags).where(c.insurance_year == year).order_by(c.flagged_at)
        return list((await self.session.execute(query)).all())

    # --- subsidies ------------------------------------------------------------------------------

    async def subsidy(self, subsidy_id: str) -> Any | None:
        """One subsidy row, by its id."""
        query = select(subsidies).where(subsidies.c.event_id == subsidy_id)
        return (await self.session.execute(query)).first()

    async def on_behalf(self, year: int) -> list[Any]:
        """The premiums to pay the tax bureau on people's behalf for the year (代缴): payable,
        answering no payment; with each person's certno."""
        c = subsidies.c
        query = (
            select(subsidies, certno_index.c.certno)
            .join(certno_index, certno_index.c.psn_no == c.psn_no)
            .where(
                c.insurance_year == year,
                c.kind == "paid_on_behalf",
                c.tax_serial.is_(None),
                c.status == "payable",
            )
            .order_by(c.psn_no, c.granted_at)
        )
        return list((await self.session.execute(query)).all())

    async def count_special(self) -> int:
        query = select(func.count()).select_from(special_persons)
        return int(await self.session.scalar(query) or 0)


def _row_values(year: int, source: str, row: CarryOverRow) -> dict[str, Any]:
    return {
        "insurance_year": year,
        "source": source,
        "row": row.row,
        "certno": row.certno,
        "name": row.name,
        "identity": row.identity.value,
        "medical_assistance": row.medical_assistance,
        "region": row.region,
        "organization": row.organization,
        "category": row.category.value if row.category else None,
    }


def _source_row(r: Any) -> SourceRow:
    return SourceRow(
        r.source,
        CarryOverRow(
            row=r.row,
            certno=r.certno,
            name=r.name,
            identity=Identity(r.identity),
            medical_assistance=bool(r.medical_assistance),
            region=r.region,
            organization=r.organization,
            category=Category(r.category) if r.category else None,
        ),
    )
