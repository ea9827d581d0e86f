"""The ops console's sums (SPEC §10, issue 14): ``console_positions``, ``console_person_years``,
``console_standing``, ``console_collection``, ``console_paid_days``, ``console_special``
(``adapters/console_summary.py`` says what each holds). Empty here: the console's first catch-up
folds the existing events into them.

Revision ID: 0008_console_summaries
Revises: 0007_broker_recovery
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.enrollment.adapters.tables import UtcDateTime
from services.enrollment.migrations.history import revisions

revision, down_revision = revisions("0008_console_summaries")

PLACE = ("region", "organization")


def _place() -> list[sa.Column]:
    return [sa.Column("region", sa.String(12), nullable=False),
            sa.Column("organization", sa.String(200), nullable=False)]  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "console_positions",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("last_id", sa.BigInteger, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "console_person_years",
        sa.Column("psn_no", sa.String(32), primary_key=True),
        sa.Column("insurance_year", sa.Integer, primary_key=True),
        *_place(),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("due", sa.BigInteger, nullable=False),
        sa.Column("paid", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "console_standing",
        sa.Column("psn_no", sa.String(32), primary_key=True),
        sa.Column("identity", sa.String(30), nullable=False),
        sa.Column("assistance", sa.Boolean, nullable=False),
        *_place(),
        sa.Column("latest_year", sa.Integer, nullable=False),
    )
    op.create_table(
        "console_collection",
        sa.Column("insurance_year", sa.Integer, nullable=False),
        *_place(),
        sa.Column("category", sa.String(20), nullable=False),
        *(
            sa.Column(n, sa.BigInteger, nullable=False)
            for n in ("people", "due", "paid", "covered")
        ),
        sa.PrimaryKeyConstraint("insurance_year", *PLACE, "category"),
    )
    op.create_table(
        "console_paid_days",
        sa.Column("insurance_year", sa.Integer, nullable=False),
        *_place(),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("paid", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("insurance_year", *PLACE, "day"),
    )
    op.create_table(
        "console_special",
        sa.Column("identity", sa.String(30), nullable=False),
        *_place(),
        sa.Column("people", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("identity", *PLACE),
    )


def downgrade() -> None:
    for table in ("console_special", "console_paid_days", "console_collection",
                  "console_standing", "console_person_years", "console_positions"):  # fmt: skip
        op.drop_table(table)
