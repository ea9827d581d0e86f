"""A 2304 leaves its message id in ``nhsa_messages`` as ``settled``, in the settlement's own write.

The log's key (hospital, msgid) is then where a settlement and a 2601 voiding its message meet:
whichever writes second waits for the first and sees it, so the settlement no longer reads the
log after posting. Only the allowed outcomes change; existing rows stay as they are.

Revision ID: 0007_settled_messages
Revises: 0006_coverage_history
"""

from __future__ import annotations

from alembic import op

revision = "0007_settled_messages"
down_revision = "0006_coverage_history"
branch_labels = None
depends_on = None

_WAS = "outcome IN ('cancelled', 'voided')"
_IS = "outcome IN ('settled', 'cancelled', 'voided')"


def _allow(condition: str) -> None:
    with op.batch_alter_table("nhsa_messages") as batch:
        batch.drop_constraint(op.f("ck_nhsa_messages_outcome"), type_="check")
        batch.create_check_constraint(op.f("ck_nhsa_messages_outcome"), condition)


def upgrade() -> None:
    _allow(_IS)


def downgrade() -> None:
    op.execute("DELETE FROM nhsa_messages WHERE outcome = 'settled'")
    _allow(_WAS)
