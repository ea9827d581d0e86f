"""Tables of the collection side (school lists, tax payments, subsidies); migration 0002.

* ``payments`` — one row per applied tax message, the primary key ``tax_serial`` is what makes a
  redelivered or duplicated message a no-op (the insert finds the key taken).
* ``unmatched_payments`` — the ops list of messages that could not be applied, with a stable
  reason code and the raw bytes (for ``enrollment payments retry``). ``dedup_key`` is the
  ``tax_serial`` when the message had a usable one, else a hash of its bytes, so a redelivery
  after a crash does not list (or dead-letter) a message twice.
* ``subsidies`` — the subsidies granted (mirrors the ``subsidy-granted`` events, written in the
  same transaction) so the pay-out list is one query; one per payment at most.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    Text,
)

from services.enrollment.adapters.tables import Position, UtcDateTime, metadata

payments = Table(
    "payments",
    metadata,
    Column("tax_serial", String(64), primary_key=True),
    Column("kind", String(10), nullable=False),
    Column("psn_no", String(32), nullable=False, index=True),
    Column("insurance_year", Integer, nullable=False),
    Column("amount", Numeric(14, 2), nullable=False),
    Column("payer", String(20), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("paid_at", UtcDateTime, nullable=False),
    Column("original_tax_serial", String(64), nullable=True),
    Column("recorded_at", UtcDateTime, nullable=False),
    CheckConstraint("amount > 0", name="ck_payments_amount_positive"),
)

unmatched_payments = Table(
    "unmatched_payments",
    metadata,
    Column("id", Position, primary_key=True, autoincrement=True),
    Column("dedup_key", String(80), nullable=False, unique=True),
    Column("tax_serial", String(64), nullable=True),
    Column("reason", String(40), nullable=False),
    Column("message", Text, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime, nullable=True),
    Column("resolution", String(40), nullable=True),
    sqlite_autoincrement=True,
)

subsidies = Table(
    "subsidies",
    metadata,
    Column("tax_serial", String(64), primary_key=True),
    Column("psn_no", String(32), nullable=False, index=True),
    Column("insurance_year", Integer, nullable=False, index=True),
    Column("kind", String(30), nullable=False),
    Column("status", String(30), nullable=False),
    Column("amount", Numeric(14, 2), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("granted_at", UtcDateTime, nullable=False),
    CheckConstraint("amount >= 0", name="ck_subsidies_amount_non_negative"),
)
