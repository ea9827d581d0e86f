"""The database refuses UPDATE and DELETE on events: the store is append-only by construction.

Revision ID: 0003_events_append_only
Revises: 0002_collection
Create Date: 2026-11-23
"""

from __future__ import annotations

from services.enrollment.migrations.history import revisions
from services.enrollment.migrations.triggers import append_only, drop_append_only

revision, down_revision = revisions("0003_events_append_only")


def upgrade() -> None:
    append_only("events", "events are")


def downgrade() -> None:
    drop_append_only("events")
