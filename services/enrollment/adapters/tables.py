"""The enrollment tables (SQLAlchemy Core). Alembic migrations create them; keep both in step.

* ``events`` — the append-only event store. ``position`` is the global order;
  UNIQUE(psn_no, stream_version) is what makes a concurrent append fail instead of merging.
* ``certno_index`` and ``registrations`` — lookups written in the same transaction as the
  events they derive from, so "one person per certno" and "one registration per person and year"
  are kept by unique keys under concurrency too.
* ``outbox`` — messages waiting for the relay (any topic), written in the same transaction as the
  state change; the relay deletes a row once the broker has acknowledged it.
* ``relay_position`` — the relay's published position and counters, kept in the database.

The collection side (school lists, tax payments, subsidies; migration 0002):

* ``payments`` — one row per applied tax message; the primary key ``tax_serial`` is what makes a
  redelivered or duplicated message a no-op (the insert finds the key taken).
* ``unmatched_payments`` — the ops list of messages that could not be applied, with a stable
  reason code and the raw bytes (for ``enrollment payments retry``). ``dedup_key`` is the
  ``tax_serial`` when the message had a usable one, else a hash of its bytes, so a redelivery
  after a crash does not list (or dead-letter) a message twice.
* ``subsidies`` — the subsidies granted and their status (mirrors the ``subsidy-granted`` and
  ``subsidy-status-changed`` events, written with them by the event store) so the pay-out and
  on-behalf lists are one query each.

The special persons' cycle has its own tables in ``special_tables.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY.
Position = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out (SQLite stores naive text; this puts UTC back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def person_year() -> tuple[Column[Any], Column[Any]]:
    """The key of a table with a row per person and insurance year."""
    return (
        Column("psn_no", String(32), primary_key=True),
        Column("insurance_year", Integer, primary_key=True),
    )


def when_and_who(act: str, *, nullable: bool = False) -> tuple[Column[Any], Column[Any]]:
    """When ``act`` was done and by whom: ``{act}_at`` (UTC) and ``{act}_by`` (the actor)."""
    return (
        Column(f"{act}_at", UtcDateTime, nullable=nullable),
        Column(f"{act}_by", String(80), nullable=nullable),
    )


def counts(*names: str) -> list[Column[Any]]:
    """A handed-in list's counts of rows, one column each."""
    return [Column(name, Integer, nullable=False) for name in names]


events = Table(
    "events",
    metadata,
    Column("position", Position, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("psn_no", String(32), nullable=False),
    Column("stream_version", Integer, nullable=False),
    Column("event_type", String(40), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("payload", Text, nullable=False),
    Column("actor", String(80), nullable=True),  # NULL: stored before 0005, read as "unknown"
    UniqueConstraint("psn_no", "stream_version", name="uq_events_stream_version"),
    CheckConstraint("stream_version >= 1", name="ck_events_stream_version_positive"),
    sqlite_autoincrement=True,
)

certno_index = Table(
    "certno_index",
    metadata,
    Column("certno", String(18), primary_key=True),
    Column("psn_no", String(32), nullable=False, unique=True),
)

registrations = Table(
    "registrations",
    metadata,
    *person_year(),
    Column("event_id", String(36), nullable=False),
    # The year's region and organization (0005): lists filter a caller's scope in the query.
    Column("region", String(12), nullable=True),
    Column("organization", String(200), nullable=True),
    Index("ix_registrations_year_region", "insurance_year", "region"),
    Index("ix_registrations_year_organization", "insurance_year", "organization"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Position, primary_key=True, autoincrement=True),
    Column("topic", String(200), nullable=False),
    Column("key", String(200), nullable=True),
    Column("value", Text, nullable=False),
    Column("event_position", BigInteger, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    sqlite_autoincrement=True,
)

relay_position = Table(
    "relay_position",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("last_event_position", BigInteger, nullable=False, default=0),
    Column("last_outbox_id", BigInteger, nullable=False, default=0),
    Column("published_count", BigInteger, nullable=False, default=0),
    Column("published_at", UtcDateTime, nullable=True),
)

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
    # The subsidy's id: its ``subsidy-granted`` event's id (migration 0006; before it, one
    # subsidy per payment keyed by tax_serial). Status changes come from its later events.
    Column("event_id", String(36), primary_key=True),
    Column("tax_serial", String(64), nullable=True, index=True),
    Column("psn_no", String(32), nullable=False, index=True),
    Column("insurance_year", Integer, nullable=False, index=True),
    Column("kind", String(30), nullable=False),
    Column("status", String(30), nullable=False),
    Column("amount", Numeric(14, 2), nullable=False),
    Column("granted_at", UtcDateTime, nullable=False),
    Column("paid_on", Date, nullable=True),
    Column("reference", String(100), nullable=True),
    Column("status_at", UtcDateTime, nullable=True),
    CheckConstraint("amount >= 0", name="ck_subsidies_amount_non_negative"),
)
