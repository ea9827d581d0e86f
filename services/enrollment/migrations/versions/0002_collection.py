"""Collection: tax payments (unique by tax_serial), the unmatched list, subsidies.

Revision ID: 0002_collection
Revises: 0001_event_store
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.enrollment.adapters.tables import Position, UtcDateTime
from services.enrollment.migrations.history import revisions

revision, down_revision = revisions("0002_collection")


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("tax_serial", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("psn_no", sa.String(32), nullable=False),
        sa.Column("insurance_year", sa.Integer, nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("payer", sa.String(20), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("paid_at", UtcDateTime, nullable=False),
        sa.Column("original_tax_serial", sa.String(64), nullable=True),
        sa.Column("recorded_at", UtcDateTime, nullable=False),
        sa.CheckConstraint("amount > 0", name="ck_payments_amount_positive"),
    )
    op.create_index("ix_payments_psn_no", "payments", ["psn_no"])
    op.create_table(
        "unmatched_payments",
        sa.Column("id", Position, primary_key=True, autoincrement=True),
        sa.Column("dedup_key", sa.String(80), nullable=False, unique=True),
        sa.Column("tax_serial", sa.String(64), nullable=True),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("resolved_at", UtcDateTime, nullable=True),
        sa.Column("resolution", sa.String(40), nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "subsidies",
        sa.Column("tax_serial", sa.String(64), primary_key=True),
        sa.Column("psn_no", sa.String(32), nullable=False),
        sa.Column("insurance_year", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("granted_at", UtcDateTime, nullable=False),
        sa.CheckConstraint("amount >= 0", name="ck_subsidies_amount_non_negative"),
    )
    op.create_index("ix_subsidies_psn_no", "subsidies", ["psn_no"])
    op.create_index("ix_subsidies_insurance_year", "subsidies", ["insurance_year"])


def downgrade() -> None:
    op.drop_table("subsidies")
    op.drop_table("unmatched_payments")
    op.drop_table("payments")
