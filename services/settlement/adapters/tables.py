"""The settlement database: coverage projection, outbox, hospitals, accumulators and the ledger.

Money columns are exact: NUMERIC(14,2) on PostgreSQL, integer fen on SQLite (which has no
decimal type and would otherwise round-trip amounts through binary floats).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
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
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from services.settlement.engine.accumulator import AMOUNT_NAMES, Accumulator
from shared.money import CENT, ZERO


class Amount(TypeDecorator[Decimal]):
    """A yuan amount with two decimals, stored exactly on every backend."""

    impl = Numeric(14, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(14, 2, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value).quantize(CENT)
        return int(value * 100) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / 100).quantize(CENT)
        return Decimal(value).quantize(CENT)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# --- coverage projection (rebuilt from enrollment.events by `settlement rebuild`) -------------

coverage_persons = Table(
    "coverage_persons",
    metadata,
    Column("psn_no", String(64), primary_key=True),
    Column("certno", String(18), index=True),
    # The tracking record: the last stream_version folded into `state`, same transaction.
    Column("last_version", Integer, nullable=False),
    Column("state", Text, nullable=False),  # projection.CoverageState as JSON
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # The region of the latest registration (the state has it per year); NULL until a
    # `registered` event is folded again (migration 0004 cannot know it).
    Column("region", String(12)),
)

processed_events = Table(
    "processed_events",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("psn_no", String(64), nullable=False),
    Column("stream_version", Integer, nullable=False),
    UniqueConstraint("psn_no", "stream_version", name="uq_processed_events_stream"),
)

# The projection as it stood after each change (SPEC §10 as-of): one row per person and version,
# with the instant it was applied. Written with the change; never cleared, not by `settlement
# rebuild` either, whose refold keeps the first row of a version: what the service answered then.
# Migration 0005 took a ``baseline`` of every person then known (no history before it).
coverage_history = Table(
    "coverage_history",
    metadata,
    Column("psn_no", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("applied_at", DateTime(timezone=True), nullable=False),
    Column("state", Text, nullable=False),
    Column("baseline", Boolean, nullable=False, default=False),
)

pending_events = Table(
    "pending_events",
    metadata,
    Column("psn_no", String(64), primary_key=True),
    Column("stream_version", Integer, primary_key=True),
    Column("event_id", String(36), nullable=False),
    Column("raw", Text, nullable=False),
    Column("parked_at", DateTime(timezone=True), nullable=False),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("topic", String(255), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("key", Text),
    Column("value", Text),
    Column("error", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("topic", "partition", "offset", name="uq_dead_letters_position"),
)

# The transactional outbox (shared.outbox): a dead letter for enrollment.events.dlq is queued in
# the transaction that records it above, and the relay (shared.relay) publishes it. Key and
# value are bytes: a poison message is kept exactly as it came, UTF-8 or not.
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("topic", String(255), nullable=False),
    Column("key", LargeBinary),
    Column("value", LargeBinary),
    Column("headers", Text),  # JSON [[name, text value], ...]
    Column("created_at", DateTime(timezone=True), nullable=False),
    sqlite_autoincrement=True,  # ids never reused: the relay publishes in id order
)

# --- hospitals ----------------------------------------------------------------------------------

hospitals = Table(
    "hospitals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(255), nullable=False),
    Column("level", Integer, nullable=False),
    Column("public", Boolean, nullable=False),
    Column("primary_care", Boolean, nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),  # SHA-256 hex of the API key
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("level BETWEEN 1 AND 3", name="level"),
)

# --- money: accumulators and the append-only ledger --------------------------------------------

# The columns are the engine's totals, in its order: the ledger reads and writes them by name.
ACCUMULATOR_AMOUNTS = AMOUNT_NAMES
ACCUMULATOR_FIELDS: tuple[str, ...] = Accumulator._fields

accumulators = Table(
    "accumulators",
    metadata,
    Column("psn_no", String(64), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("inpatient_stays", Integer, nullable=False, default=0),
    *(Column(name, Amount(), nullable=False, default=ZERO) for name in ACCUMULATOR_AMOUNTS),
    *(CheckConstraint(f"{name} >= 0", name=f"{name}_nonneg") for name in ACCUMULATOR_FIELDS),
)

ledger = Table(
    "ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entry_type", String(16), nullable=False),  # settlement | reversal
    Column("setl_id", String(40), nullable=False),
    Column("hospital_id", Integer, ForeignKey("hospitals.id"), nullable=False),
    Column("mdtrt_id", String(128), nullable=False),
    Column("psn_no", String(64), nullable=False, index=True),
    Column("insurance_year", Integer, nullable=False),
    Column("med_type", String(32), nullable=False),
    Column("idempotency_key", String(255)),
    Column("request_hash", String(64)),
    Column("response", Text, nullable=False),  # the exact body answered
    Column("delta", Text, nullable=False),  # accumulator change as JSON, signed
    Column("created_at", DateTime(timezone=True), nullable=False),
    # What a settlement was adjudicated under (SPEC §10): the policy's name and the SHA-256 of
    # its file, and the person's registered region. NULL on reversals and on rows settled
    # before migration 0004 (which did not record them).
    Column("policy_name", String(64)),
    Column("policy_sha256", String(64)),
    Column("region", String(12)),
    # A settlement's claim as `settlement adjudicate` takes a line — the body, the hospital's
    # profile and the person's identity on the claim date — so that a what-if can run it again.
    Column("claim", Text),
    CheckConstraint("entry_type IN ('settlement', 'reversal')", name="entry_type"),
    UniqueConstraint("hospital_id", "idempotency_key", name="uq_ledger_idempotency"),
    UniqueConstraint("setl_id", "entry_type", name="uq_ledger_entry"),
)

# One row per visit of a hospital that stands settled; the reversal deletes it.
active_visits = Table(
    "active_visits",
    metadata,
    Column("hospital_id", Integer, ForeignKey("hospitals.id"), primary_key=True),
    Column("mdtrt_id", String(128), primary_key=True),
    Column("setl_id", String(40), nullable=False, unique=True),
)

# --- the NHSA gateway (SPEC §9) ------------------------------------------------------------------

# A hospital's ledger rows of a period (3201/3202, the ops statements): by settlement time.
Index("ix_ledger_hospital_created", ledger.c.hospital_id, ledger.c.created_at)
Index("ix_ledger_created", ledger.c.created_at)

# What a platform message id did that a later 2601 must undo or refuse: a cancel (2305) posted,
# or a message voided by 2601 (a voided 2304 arriving late is refused). The first row stays.
nhsa_messages = Table(
    "nhsa_messages",
    metadata,
    Column("hospital_id", Integer, ForeignKey("hospitals.id"), primary_key=True),
    Column("msgid", String(255), primary_key=True),
    Column("infno", String(8), nullable=False),
    Column("outcome", String(16), nullable=False),  # settled | cancelled | voided
    Column("setl_id", String(40)),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("outcome IN ('settled', 'cancelled', 'voided')", name="outcome"),
)
