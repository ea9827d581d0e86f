"""The NHSA gateway (SPEC §9): the message log of 2305/2601 and the statement's indexes.

* ``nhsa_messages``: per hospital, what a platform message id did that a later 2601 may have
  to undo or refuse — a cancel (2305) that was posted, or a message voided by 2601 before or
  after it arrived (a voided 2304 that turns up late is refused). One row per (hospital,
  msgid): the database keeps the first.
* ``ix_ledger_hospital_created`` / ``ix_ledger_created``: a hospital's (or every hospital's)
  ledger rows of a period, for 3201/3202 and the ops statements, without reading the whole
  ledger.

Revision ID: 0003_nhsa_gateway
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_nhsa_gateway"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nhsa_messages",
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("msgid", sa.String(length=255), nullable=False),
        sa.Column("infno", sa.String(length=8), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("setl_id", sa.String(length=40), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('cancelled', 'voided')", name=op.f("ck_nhsa_messages_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"],
            ["hospitals.id"],
            name=op.f("fk_nhsa_messages_hospital_id_hospitals"),
        ),
        sa.PrimaryKeyConstraint("hospital_id", "msgid", name=op.f("pk_nhsa_messages")),
    )
    op.create_index("ix_ledger_hospital_created", "ledger", ["hospital_id", "created_at"])
    op.create_index("ix_ledger_created", "ledger", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_ledger_created", table_name="ledger")
    op.drop_index("ix_ledger_hospital_created", table_name="ledger")
    op.drop_table("nhsa_messages")
