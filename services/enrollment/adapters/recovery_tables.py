"""The tables of recovery from a lost broker and of the reconciliation (issue 9; migration 0007).

* ``relay_offsets`` — per partition of ``enrollment.events``, the offset after the last message
  the broker acknowledged to the relay (``shared.offsets``): a broker whose log ends before it
  lost messages.
* ``republish_jobs`` — re-enqueueing a range of the event store into the outbox, batch by batch:
  ``after_position`` is the cursor (the last position queued), ``until_position`` the store's end
  when the job was opened. A job is written in the transaction that noticed the loss (or by
  ``enrollment republish``), so a crash does not forget it; the relay and the command advance it.
* ``reconciliation_runs`` — each pass of ``enrollment reconcile``: what it compared and the
  differences it found, by kind (the last row is the metric's value).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Integer, String, Table

from services.enrollment.adapters.tables import Position, UtcDateTime, metadata

relay_offsets = Table(
    "relay_offsets",
    metadata,
    Column("topic", String(200), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("next_offset", BigInteger, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

republish_jobs = Table(
    "republish_jobs",
    metadata,
    Column("id", Position, primary_key=True, autoincrement=True),
    Column("topic", String(200), nullable=False),
    Column("cause", String(20), nullable=False),  # broker_loss | operator
    Column("detail", String(500), nullable=False),
    Column("from_position", BigInteger, nullable=False),
    Column("after_position", BigInteger, nullable=False),
    Column("until_position", BigInteger, nullable=False),
    Column("enqueued", BigInteger, nullable=False, default=0),
    Column("created_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
    sqlite_autoincrement=True,
)

reconciliation_runs = Table(
    "reconciliation_runs",
    metadata,
    Column("id", Position, primary_key=True, autoincrement=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=False),
    Column("compared", BigInteger, nullable=False),  # persons enrollment has
    Column("behind", Integer, nullable=False),
    Column("missing", Integer, nullable=False),
    Column("ahead", Integer, nullable=False),
    Column("unknown", Integer, nullable=False),
    Column("in_flight", Integer, nullable=False),
    Column("healed_events", BigInteger, nullable=False),
    Column("clean", Boolean, nullable=False),
    sqlite_autoincrement=True,
)
