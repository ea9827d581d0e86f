"""The actor of every event, and each registration's region and organization (SPEC §8).

* ``events.actor``: who wrote the event (``shared.events`` says the forms). Events stored before
  it stay NULL — the append-only table is never rewritten — and read as ``"unknown"``.
* ``registrations.region`` / ``.organization``: the registered year's region and organization,
  so lists filter by a district's region prefix or a town's organization in the query itself.
  Filled here from each registration's ``registered`` event.

Revision ID: 0005_actor_and_scope
Revises: 0004_staff_audit
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.enrollment.migrations.history import revisions

revision, down_revision = revisions("0005_actor_and_scope")


def upgrade() -> None:
    op.add_column("events", sa.Column("actor", sa.String(80), nullable=True))
    with op.batch_alter_table("registrations") as table:
        table.add_column(sa.Column("region", sa.String(12), nullable=True))
        table.add_column(sa.Column("organization", sa.String(200), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        field = "e.payload::json->>'{}'"
    else:
        field = "json_extract(e.payload, '$.{}')"
    for column in ("region", "organization"):
        op.execute(
            f"UPDATE registrations SET {column} = (SELECT {field.format(column)} FROM events e"  # noqa: S608
            " WHERE e.event_id = registrations.event_id)"
        )
    op.create_index("ix_registrations_year_region", "registrations", ["insurance_year", "region"])
    op.create_index(
        "ix_registrations_year_organization", "registrations", ["insurance_year", "organization"]
    )


def downgrade() -> None:
    op.drop_index("ix_registrations_year_organization", "registrations")
    op.drop_index("ix_registrations_year_region", "registrations")
    with op.batch_alter_table("registrations") as table:
        table.drop_column("organization")
        table.drop_column("region")
    op.drop_column("events", "actor")
