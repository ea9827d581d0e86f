"""The special persons' cycle (004, SPEC §7): carry-over lists, monthly assistance lists, the
special-persons index, registration flags, and subsidies keyed by their event with a status.

``subsidies`` is rebuilt: its key was the payment (one subsidy per payment); now it is the
``subsidy-granted`` event's id, ``tax_serial`` may be empty (a premium paid on a person's behalf
answers no payment) and a payout has its date and reference. Existing rows are copied as they are.
``special_persons`` is filled from the events already stored.

Revision ID: 0006_special_persons
Revises: 0005_actor_and_scope
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.enrollment.adapters.tables import Position, UtcDateTime
from services.enrollment.migrations.history import revisions

revision, down_revision = revisions("0006_special_persons")

SUBSIDY_COLUMNS = "event_id, tax_serial, psn_no, insurance_year, kind, status, amount, granted_at"


def _subsidies(name: str, *, keyed_by_event: bool) -> None:
    """The subsidies table as it is from here on (keyed by its event), or as it was in 0002."""
    later = (
        sa.Column("paid_on", sa.Date, nullable=True),
        sa.Column("reference", sa.String(100), nullable=True),
        sa.Column("status_at", UtcDateTime, nullable=True),
    )
    op.create_table(
        name,
        sa.Column("event_id", sa.String(36), primary_key=keyed_by_event, nullable=False),
        sa.Column(
            "tax_serial", sa.String(64), primary_key=not keyed_by_event, nullable=keyed_by_event
        ),
        sa.Column("psn_no", sa.String(32), nullable=False),
        sa.Column("insurance_year", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("granted_at", UtcDateTime, nullable=False),
        *(later if keyed_by_event else ()),
        sa.CheckConstraint("amount >= 0", name="ck_subsidies_amount_non_negative"),
    )


def _carry_over() -> None:
    op.create_table(
        "carry_over_years",
        sa.Column("insurance_year", sa.Integer, primary_key=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("submitted_at", UtcDateTime, nullable=True),
        sa.Column("submitted_by", sa.String(80), nullable=True),
        sa.Column("frozen_at", UtcDateTime, nullable=True),
        sa.Column("frozen_by", sa.String(80), nullable=True),
        sa.Column("freeze_result", sa.Text, nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'submitted', 'frozen')", name="ck_carry_over_years_status"
        ),
    )
    op.create_table(
        "carry_over_lists",
        sa.Column("insurance_year", sa.Integer, primary_key=True),
        sa.Column("source", sa.String(40), primary_key=True),
        sa.Column("uploaded_at", UtcDateTime, nullable=False),
        sa.Column("uploaded_by", sa.String(80), nullable=False),
        sa.Column("accepted", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
    )
    op.create_table(
        "carry_over_rows",
        sa.Column("id", Position, primary_key=True, autoincrement=True),
        sa.Column("insurance_year", sa.Integer, nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("row", sa.Integer, nullable=False),
        sa.Column("certno", sa.String(18), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("identity", sa.String(30), nullable=False),
        sa.Column("medical_assistance", sa.Boolean, nullable=False),
        sa.Column("region", sa.String(12), nullable=False),
        sa.Column("organization", sa.String(200), nullable=False),
        sa.Column("category", sa.String(20), nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_carry_over_rows_year_source", "carry_over_rows", ["insurance_year", "source"]
    )
    op.create_index(
        "ix_carry_over_rows_year_certno", "carry_over_rows", ["insurance_year", "certno"]
    )


def upgrade() -> None:
    _subsidies("subsidies_v2", keyed_by_event=True)
    op.execute(
        f"INSERT INTO subsidies_v2 ({SUBSIDY_COLUMNS}) SELECT {SUBSIDY_COLUMNS} FROM subsidies"  # noqa: S608
    )
    op.drop_table("subsidies")
    op.rename_table("subsidies_v2", "subsidies")
    for column in ("psn_no", "insurance_year", "tax_serial"):
        op.create_index(f"ix_subsidies_{column}", "subsidies", [column])
    _carry_over()
    op.create_table(
        "assistance_uploads",
        sa.Column("id", Position, primary_key=True, autoincrement=True),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("uploaded_at", UtcDateTime, nullable=False),
        sa.Column("uploaded_by", sa.String(80), nullable=False),
        sa.Column("late", sa.Boolean, nullable=False),
        *(
            sa.Column(name, sa.Integer, nullable=False)
            for name in ("flagged", "unflagged", "unchanged", "unknown", "rejected")
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_assistance_uploads_month", "assistance_uploads", ["month"])
    op.create_table("special_persons", sa.Column("psn_no", sa.String(32), primary_key=True))
    # Everyone an identity event already made special or flagged (the index the lists read).
    op.execute(
        sa.text(
            "INSERT INTO special_persons (psn_no) SELECT DISTINCT psn_no FROM events"
            " WHERE event_type IN ('registered', 'identity-changed')"
            " AND (payload NOT LIKE :ordinary OR payload LIKE :flagged)"
        ).bindparams(ordinary='%"identity":"ordinary"%', flagged='%"medical_assistance":true%')
    )
    op.create_table(
        "registration_flags",
        sa.Column("psn_no", sa.String(32), primary_key=True),
        sa.Column("insurance_year", sa.Integer, primary_key=True),
        sa.Column("flag", sa.String(30), primary_key=True),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("flagged_by", sa.String(80), nullable=False),
        sa.Column("flagged_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "registration_flags",
        "special_persons",
        "assistance_uploads",
        "carry_over_rows",
        "carry_over_lists",
        "carry_over_years",
    ):
        op.drop_table(table)
    # One subsidy per payment again: those answering no payment cannot be kept.
    _subsidies("subsidies_v1", keyed_by_event=False)
    op.execute(
        f"INSERT INTO subsidies_v1 ({SUBSIDY_COLUMNS}) SELECT {SUBSIDY_COLUMNS} FROM subsidies"  # noqa: S608
        " WHERE tax_serial IS NOT NULL AND event_id IN (SELECT MIN(event_id) FROM subsidies"
        " WHERE tax_serial IS NOT NULL GROUP BY tax_serial)"
    )
    op.drop_table("subsidies")
    op.rename_table("subsidies_v1", "subsidies")
    op.create_index("ix_subsidies_psn_no", "subsidies", ["psn_no"])
    op.create_index("ix_subsidies_insurance_year", "subsidies", ["insurance_year"])
