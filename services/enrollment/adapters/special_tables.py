"""The special persons' cycle's tables (004, SPEC §7; migration 0006). Kept in step with it.

* ``carry_over_years`` — one row per insurance year: ``draft`` → ``submitted`` → ``frozen``. A
  status moves with one conditional UPDATE (``WHERE status = …``), so two clerks racing cannot
  both move it; ``freeze_result`` keeps the answer of the freeze, which a second freeze repeats.
* ``carry_over_lists`` — who handed in each department's list for a year, and its counts; the
  primary key (year, source) is the "one list per source" rule (a re-upload replaces it).
* ``carry_over_rows`` — the rows of those lists, as accepted (the merge reads them).
* ``assistance_uploads`` — each monthly medical-assistance list handed in, with its counts.
* ``special_persons`` — everyone ever special or flagged for medical assistance: the people the
  monthly list, the monthly report and the on-behalf list look at. Written with their events.
* ``registration_flags`` — registrations taken outside the year's window (by the district role):
  flagged, never silent. Written with the registration.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from services.enrollment.adapters.tables import (
    Position,
    UtcDateTime,
    counts,
    metadata,
    person_year,
    when_and_who,
)

CARRY_OVER_STATUSES = "'draft', 'submitted', 'frozen'"

carry_over_years = Table(
    "carry_over_years",
    metadata,
    Column("insurance_year", Integer, primary_key=True),
    Column("status", String(12), nullable=False),
    *when_and_who("submitted", nullable=True),
    *when_and_who("frozen", nullable=True),
    Column("freeze_result", Text, nullable=True),
    CheckConstraint(f"status IN ({CARRY_OVER_STATUSES})", name="ck_carry_over_years_status"),
)

carry_over_lists = Table(
    "carry_over_lists",
    metadata,
    Column("insurance_year", Integer, primary_key=True),
    Column("source", String(40), primary_key=True),
    *when_and_who("uploaded"),
    *counts("accepted", "rejected"),
)

carry_over_rows = Table(
    "carry_over_rows",
    metadata,
    Column("id", Position, primary_key=True, autoincrement=True),
    Column("insurance_year", Integer, nullable=False),
    Column("source", String(40), nullable=False),
    Column("row", Integer, nullable=False),
    Column("certno", String(18), nullable=False),
    Column("name", String(100), nullable=False),
    Column("identity", String(30), nullable=False),
    Column("medical_assistance", Boolean, nullable=False),
    Column("region", String(12), nullable=False),
    Column("organization", String(200), nullable=False),
    Column("category", String(20), nullable=True),
    Index("ix_carry_over_rows_year_source", "insurance_year", "source"),
    Index("ix_carry_over_rows_year_certno", "insurance_year", "certno"),
    sqlite_autoincrement=True,
)

assistance_uploads = Table(
    "assistance_uploads",
    metadata,
    Column("id", Position, primary_key=True, autoincrement=True),
    Column("month", String(7), nullable=False, index=True),
    *when_and_who("uploaded"),
    Column("late", Boolean, nullable=False),
    *counts("flagged", "unflagged", "unchanged", "unknown", "rejected"),
    sqlite_autoincrement=True,
)

special_persons = Table(
    "special_persons",
    metadata,
    Column("psn_no", String(32), primary_key=True),
)

registration_flags = Table(
    "registration_flags",
    metadata,
    *person_year(),
    Column("flag", String(30), primary_key=True),
    Column("detail", Text, nullable=False),
    Column("flagged_by", String(80), nullable=False),
    Column("flagged_at", UtcDateTime, nullable=False),
)
