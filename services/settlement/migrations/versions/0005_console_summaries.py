"""The ops console's summaries (SPEC §10): daily ledger totals and refusals per day.

* ``ledger_daily``: per China-time day, hospital, med_type and entry type, the count and the sums
  of the answers' amounts, caught up from the ledger by ``adapters.ledger_summary`` (off the
  settle path); ``ledger_summary_position`` the ledger id it has summed up to. Filled from the
  existing ledger on the first catch-up, not here.
* ``refusals_daily``: refused settlements per day, hospital and code (``adapters.refusal_log``).

Revision ID: 0005_console_summaries
Revises: 0004_policy_per_region
"""

import sqlalchemy as sa
from alembic import op

from services.settlement.adapters.tables import Amount

revision = "0005_console_summaries"
down_revision = "0004_policy_per_region"
branch_labels = None
depends_on = None

FIGURES = ("medfee_sumamt", "fund_pay_sumamt", "hifp_pay", "hifmi_pay", "maf_pay", "psn_part_amt")


def upgrade() -> None:
    op.create_table(
        "ledger_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("med_type", sa.String(length=32), nullable=False),
        sa.Column("entry_type", sa.String(length=16), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        *(sa.Column(name, Amount(), nullable=False) for name in FIGURES),
        sa.PrimaryKeyConstraint(
            "day", "hospital_id", "med_type", "entry_type", name=op.f("pk_ledger_daily")
        ),
    )
    op.create_table(
        "ledger_summary_position",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_ledger_summary_position")),
    )
    op.create_table(
        "refusals_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("refusals", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "hospital_id", "code", name=op.f("pk_refusals_daily")),
    )


def downgrade() -> None:
    op.drop_table("refusals_daily")
    op.drop_table("ledger_summary_position")
    op.drop_table("ledger_daily")
