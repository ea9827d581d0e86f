"""The coverage projection's history, for answers as of an instant (SPEC §10).

``coverage_history`` keeps the projection as it stood after each change, with the instant it
was applied. Persons known now get a ``baseline`` row — their state as of their last change —
since what they looked like before was never kept: an as-of answer earlier than it says so
(``AS_OF_UNAVAILABLE``) rather than guess.

Revision ID: 0006_coverage_history
Revises: 0005_console_summaries
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_coverage_history"
down_revision = "0005_console_summaries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coverage_history",
        sa.Column("psn_no", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("baseline", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("psn_no", "version", name=op.f("pk_coverage_history")),
    )
    op.execute(
        sa.text(
            "INSERT INTO coverage_history (psn_no, version, applied_at, state, baseline)"
            " SELECT psn_no, last_version, updated_at, state, :baseline FROM coverage_persons"
        ).bindparams(sa.bindparam("baseline", True, type_=sa.Boolean()))
    )


def downgrade() -> None:
    op.drop_table("coverage_history")
