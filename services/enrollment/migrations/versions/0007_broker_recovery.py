"""Recovery from a lost broker and the reconciliation (issue 9): ``relay_offsets``,
``republish_jobs``, ``reconciliation_runs`` (``adapters/recovery_tables.py`` says what each holds).

Revision ID: 0007_broker_recovery
Revises: 0006_special_persons
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.enrollment.adapters.tables import Position, UtcDateTime
from services.enrollment.migrations.history import revisions

revision, down_revision = revisions("0007_broker_recovery")


def upgrade() -> None:
    op.create_table(
        "relay_offsets",
        sa.Column("topic", sa.String(200), primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("next_offset", sa.BigInteger, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "republish_jobs",
        sa.Column("id", Position, primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("cause", sa.String(20), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.Column("from_position", sa.BigInteger, nullable=False),
        sa.Column("after_position", sa.BigInteger, nullable=False),
        sa.Column("until_position", sa.BigInteger, nullable=False),
        sa.Column("enqueued", sa.BigInteger, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("finished_at", UtcDateTime, nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "reconciliation_runs",
        sa.Column("id", Position, primary_key=True, autoincrement=True),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("finished_at", UtcDateTime, nullable=False),
        sa.Column("compared", sa.BigInteger, nullable=False),
        sa.Column("behind", sa.Integer, nullable=False),
        sa.Column("missing", sa.Integer, nullable=False),
        sa.Column("ahead", sa.Integer, nullable=False),
        sa.Column("unknown", sa.Integer, nullable=False),
        sa.Column("in_flight", sa.Integer, nullable=False),
        sa.Column("healed_events", sa.BigInteger, nullable=False),
        sa.Column("clean", sa.Boolean, nullable=False),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    for table in ("reconciliation_runs", "republish_jobs", "relay_offsets"):
        op.drop_table(table)
