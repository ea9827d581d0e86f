"""Event store, lookups, outbox and relay position.

Revision ID: 0001_event_store
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.enrollment.adapters.tables import Position, UtcDateTime
from services.enrollment.migrations.history import revisions

revision, down_revision = revisions("0001_event_store")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("position", Position, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("psn_no", sa.String(32), nullable=False),
        sa.Column("stream_version", sa.Integer, nullable=False),
        sa.Column("event_type", sa.String(40), nullable=False),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("occurred_at", UtcDateTime, nullable=False),
        sa.Column("recorded_at", UtcDateTime, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.UniqueConstraint("psn_no", "stream_version", name="uq_events_stream_version"),
        sa.CheckConstraint("stream_version >= 1", name="ck_events_stream_version_positive"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "certno_index",
        sa.Column("certno", sa.String(18), primary_key=True),
        sa.Column("psn_no", sa.String(32), nullable=False, unique=True),
    )
    op.create_table(
        "registrations",
        sa.Column("psn_no", sa.String(32), primary_key=True),
        sa.Column("insurance_year", sa.Integer, primary_key=True),
        sa.Column("event_id", sa.String(36), nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", Position, primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("event_position", sa.BigInteger, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "relay_position",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("last_event_position", sa.BigInteger, nullable=False),
        sa.Column("last_outbox_id", sa.BigInteger, nullable=False),
        sa.Column("published_count", sa.BigInteger, nullable=False),
        sa.Column("published_at", UtcDateTime, nullable=True),
    )


def downgrade() -> None:
    for table in ("relay_position", "outbox", "registrations", "certno_index", "events"):
        op.drop_table(table)
