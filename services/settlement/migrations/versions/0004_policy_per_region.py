"""Policies per region and year (SPEC §10): what each settlement was adjudicated under.

* ``coverage_persons.region``: the region of the latest registration (the state JSON keeps it
  per year). NULL for persons folded before: their ``registered`` events were not kept, so only
  folding them again (``settlement rebuild``) fills it.
* ``ledger.policy_name`` / ``policy_sha256`` / ``region``: the policy and region of a settlement.
  NULL on existing rows: which policy the process ran with then is not recorded anywhere.
* ``ledger.claim``: the claim as a ``settlement adjudicate`` line, which a what-if runs again.
  Filled here for existing settlements from what the ledger holds: the amounts and claim type of
  the stored answer, the diagnosis from its chronic-outpatient receipt line, the hospital's
  profile from the registry (a level never changes), the identity the person's projection holds
  on the settlement's date. The admission time was never stored: the settlement's date within
  its insurance year stands in for it (it only chooses the identity), and such a line carries
  ``"backfilled": true``.

Revision ID: 0004_policy_per_region
Revises: 0003_nhsa_gateway
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004_policy_per_region"
down_revision = "0003_nhsa_gateway"
branch_labels = None
depends_on = None

_CST = timezone(timedelta(hours=8))
# The chronic-outpatient receipt line names the diagnosis, in English or in Chinese.
_DIAGNOSIS = re.compile(r"^(?:Chronic outpatient treatment of (\S+) \(|门诊慢特病 (\S+)（)")
_BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("coverage_persons") as table:
        table.add_column(sa.Column("region", sa.String(12), nullable=True))
    with op.batch_alter_table("ledger") as table:
        table.add_column(sa.Column("policy_name", sa.String(64), nullable=True))
        table.add_column(sa.Column("policy_sha256", sa.String(64), nullable=True))
        table.add_column(sa.Column("region", sa.String(12), nullable=True))
        table.add_column(sa.Column("claim", sa.Text(), nullable=True))
    _backfill_claims(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("ledger") as table:
        for column in ("claim", "region", "policy_sha256", "policy_name"):
            table.drop_column(column)
    with op.batch_alter_table("coverage_persons") as table:
        table.drop_column("region")


def _backfill_claims(conn: sa.Connection) -> None:
    hospitals = {
        row.id: {"level": row.level, "public": row.public, "primary_care": row.primary_care}
        for row in conn.execute(sa.text("SELECT id, level, public, primary_care FROM hospitals"))
    }
    last = 0
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT l.id, l.hospital_id, l.insurance_year, l.response, l.created_at, c.state"
                " FROM ledger l LEFT JOIN coverage_persons c ON c.psn_no = l.psn_no"
                " WHERE l.entry_type = 'settlement' AND l.claim IS NULL AND l.id > :last"
                " ORDER BY l.id LIMIT :batch"
            ),
            {"last": last, "batch": _BATCH},
        ).all()
        if not rows:
            return
        updates = [{"id": row.id, "claim": _line(row, hospitals[row.hospital_id])} for row in rows]
        conn.execute(sa.text("UPDATE ledger SET claim = :claim WHERE id = :id"), updates)
        last = rows[-1].id


def _line(row: Any, hospital: dict[str, Any]) -> str:
    answer = json.loads(row.response)
    day = _claim_day(row.created_at, row.insurance_year)
    stamp = datetime.combine(day, datetime.min.time()).isoformat()
    identity, flag = _identity_on(row.state, day)
    line = {
        "psn_no": answer["psn_no"],
        "mdtrt_id": answer["mdtrt_id"],
        "med_type": answer["med_type"],
        "begntime": stamp,
        "endtime": stamp,
        **{
            name: answer[name]
            for name in ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt")
        },
        "dise_codg": _diagnosis(answer.get("setl_proc_info") or []),
        "hospital": {key: bool(value) if key != "level" else int(value)
                     for key, value in hospital.items()},
        "person": {"identity": identity, "medical_assistance": flag},
        "backfilled": True,
    }  # fmt: skip
    return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


def _claim_day(created_at: Any, year: int) -> date:
    """The settlement's date (China time), held within the claim's insurance year."""
    if isinstance(created_at, str):  # SQLite hands back text
        created_at = datetime.fromisoformat(created_at)
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    day: date = created_at.astimezone(_CST).date()
    return min(max(day, date(year, 1, 1)), date(year, 12, 31))


def _identity_on(state: str | None, day: date) -> tuple[str, bool]:
    """The identity spell of the projection in force on ``day`` (the first before any)."""
    spells = json.loads(state).get("identities", []) if state else []
    chosen = spells[0] if spells else None
    for spell in spells:
        if date.fromisoformat(spell["effective_from"]) <= day:
            chosen = spell
    if chosen is None:
        return "ordinary", False
    return str(chosen["identity"]), bool(chosen["medical_assistance"])


def _diagnosis(lines: list[str]) -> str | None:
    for text in lines:
        found = _DIAGNOSIS.match(text)
        if found:
            return found.group(1) or found.group(2)
    return None
