"""Staff (hashed tokens and passwords) and the append-only audit log (SPEC §8).

Revision ID: 0004_staff_audit
Revises: 0003_events_append_only
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.enrollment.adapters.tables import Position, UtcDateTime
from services.enrollment.migrations.history import revisions
from services.enrollment.migrations.triggers import append_only, drop_append_only

revision, down_revision = revisions("0004_staff_audit")

ROLES = "'admin', 'city', 'district', 'town', 'department', 'tax', 'auditor'"


def upgrade() -> None:
    op.create_table(
        "staff",
        sa.Column("id", Position, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("region", sa.String(12), nullable=True),
        sa.Column("organization", sa.String(100), nullable=True),
        sa.Column("source", sa.String(40), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.Text, nullable=True),
        sa.Column("disabled_at", UtcDateTime, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.CheckConstraint(f"role IN ({ROLES})", name="ck_staff_role"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "audit_log",
        sa.Column("id", Position, primary_key=True, autoincrement=True),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("actor_name", sa.String(64), nullable=False),
        sa.Column("actor_role", sa.String(20), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("psn_no", sa.String(32), nullable=True),
        sa.Column("records", sa.Integer, nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
        sa.CheckConstraint("records >= 0", name="ck_audit_log_records_non_negative"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_actor_at", "audit_log", ["actor_name", "at"])
    op.create_index("ix_audit_log_psn_no", "audit_log", ["psn_no"])
    append_only("audit_log", "audit_log is")


def downgrade() -> None:
    drop_append_only("audit_log")
    op.drop_table("audit_log")
    op.drop_table("staff")
