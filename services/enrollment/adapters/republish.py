"""Re-enqueueing stored events into the outbox: republish jobs, and a few persons' streams.

Enrollment keeps every event it ever wrote, so what a broker lost can be sent again. A
``republish_jobs`` row covers a range of global positions; ``step`` queues the next batch of it
(outbox rows exactly as ``EventStore.append_many`` writes them: the envelope, keyed by psn_no) and
moves the job's cursor in the same transaction, so the relay and ``enrollment republish`` may both
advance a job, and a crash resumes where the last batch committed. Rows are queued in position
order, so each person's events leave in stream order. Settlement's projection drops what it has
already applied (tracking rows by event id and (psn_no, stream_version)), so sending an event
again is harmless.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.enrollment import metrics
from services.enrollment.adapters.event_store import COLUMNS, decode
from services.enrollment.adapters.recorders import IN_CHUNK
from services.enrollment.adapters.recovery_tables import republish_jobs
from services.enrollment.adapters.tables import events, outbox
from shared.events import Event, utcnow
from shared.offsets import Loss, LossHandler

log = logging.getLogger(__name__)

BROKER_LOSS = "broker_loss"
OPERATOR = "operator"
HEAL = "heal"

Stored = tuple[int, Event]
"""An event and its global position."""


@dataclass(frozen=True, slots=True)
class Job:
    """A republish job's progress."""

    id: int
    topic: str
    cause: str
    from_position: int
    after_position: int
    until_position: int
    enqueued: int
    finished: bool


async def open_job(
    conn: AsyncConnection, topic: str, *, from_position: int, cause: str, detail: str
) -> Job:
    """Open a job for every event from ``from_position`` to the store's end now."""
    until = int(await conn.scalar(select(func.coalesce(func.max(events.c.position), 0))) or 0)
    after = max(from_position, 1) - 1
    values = {
        "topic": topic,
        "cause": cause,
        "detail": detail[:500],
        "from_position": after + 1,
        "after_position": after,
        "until_position": until,
        "enqueued": 0,
        "created_at": utcnow(),
        "finished_at": utcnow() if after >= until else None,
    }
    result = await conn.execute(insert(republish_jobs).values(**values))
    job_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    log.warning("republish job %d opened (%s): positions %d..%d", job_id, detail, after + 1, until)
    return Job(job_id, topic, cause, after + 1, after, until, 0, after >= until)


def on_broker_loss(topic: str) -> LossHandler:
    """The relay's loss handler: a job republishing the whole store to ``topic``.

    The whole store: which events went to the lost partitions is not known, and settlement
    drops the ones it already has.
    """

    async def handle(conn: AsyncConnection, losses: list[Loss]) -> None:
        lost = ", ".join(f"{x.topic}[{x.partition}] {x.expected}->{x.found}" for x in losses)
        await open_job(
            conn, topic, from_position=1, cause=BROKER_LOSS, detail=f"broker lost data: {lost}"
        )

    return handle


async def step(engine: AsyncEngine, batch_size: int = 1000) -> int:
    """Queue the next batch of the oldest open job; how many events were queued (0: none open).

    One transaction: the job's row is locked (PostgreSQL; SQLite's BEGIN IMMEDIATE serialises
    anyway), its batch is read and queued, its cursor moved.
    """
    async with engine.begin() as conn:
        open_jobs = select(republish_jobs).where(republish_jobs.c.finished_at.is_(None))
        row = (
            await conn.execute(open_jobs.order_by(republish_jobs.c.id).limit(1).with_for_update())
        ).first()
        if row is None:
            metrics.REPUBLISH_BACKLOG.set(0)
            return 0
        current = _job(row)
        rows = await conn.execute(
            select(events.c.position, *COLUMNS)
            .where(
                events.c.position > current.after_position,
                events.c.position <= current.until_position,
            )
            .order_by(events.c.position)
            .limit(batch_size)
        )
        batch = [(int(row[0]), decode(*row[1:])) for row in rows]
        await enqueue(conn, current.topic, batch)
        last = batch[-1][0] if len(batch) == batch_size else current.until_position
        done = last >= current.until_position
        await conn.execute(
            update(republish_jobs)
            .where(republish_jobs.c.id == current.id)
            .values(
                after_position=last,
                enqueued=republish_jobs.c.enqueued + len(batch),
                finished_at=utcnow() if done else None,
            )
        )
    metrics.EVENTS_REPUBLISHED.labels(current.cause).inc(len(batch))
    metrics.REPUBLISH_BACKLOG.set(current.until_position - last)
    if done:
        total = current.enqueued + len(batch)
        log.warning("republish job %d finished: %d events queued", current.id, total)
    return len(batch)


async def get_job(conn: AsyncConnection, job_id: int) -> Job:
    """A job's progress now."""
    row = (await conn.execute(select(republish_jobs).where(republish_jobs.c.id == job_id))).one()
    return _job(row)


def _job(row: Any) -> Job:
    return Job(
        id=int(row.id),
        topic=row.topic,
        cause=row.cause,
        from_position=int(row.from_position),
        after_position=int(row.after_position),
        until_position=int(row.until_position),
        enqueued=int(row.enqueued),
        finished=row.finished_at is not None,
    )


async def enqueue(conn: AsyncConnection, topic: str, stored: Sequence[Stored]) -> None:
    """Queue stored events for the relay, in the order given (one insert)."""
    if not stored:
        return
    now = utcnow()
    await conn.execute(
        insert(outbox),
        [
            {
                "topic": topic,
                "key": event.psn_no,
                "value": event.to_json().decode(),
                "event_position": position,
                "created_at": now,
            }
            for position, event in stored
        ],
    )


async def streams_after(
    conn: AsyncConnection, settled: Mapping[str, int]
) -> dict[str, list[Stored]]:
    """Per person, the stored events after the version given (``settled``), in stream order."""
    found: dict[str, list[Stored]] = defaultdict(list)
    wanted = sorted(settled)
    for start in range(0, len(wanted), IN_CHUNK):
        rows = await conn.execute(
            select(events.c.position, *COLUMNS)
            .where(events.c.psn_no.in_(wanted[start : start + IN_CHUNK]))
            .order_by(events.c.psn_no, events.c.stream_version)
        )
        for row in rows:
            psn_no, version = row[4], row[5]
            if version > settled[psn_no]:
                found[psn_no].append((int(row[0]), decode(*row[1:])))
    return dict(found)


async def last_versions(conn: AsyncConnection, after: str, limit: int) -> list[tuple[str, int]]:
    """A page of (psn_no, last stream version), the persons whose psn_no sorts after ``after``.

    One ordered walk of the (psn_no, stream_version) unique index, so a page costs the same at
    the start of a million persons as at the end.
    """
    rows = await conn.execute(
        select(events.c.psn_no, func.max(events.c.stream_version))
        .where(events.c.psn_no > after)
        .group_by(events.c.psn_no)
        .order_by(events.c.psn_no)
        .limit(limit)
    )
    return [(psn_no, int(version)) for psn_no, version in rows]


def in_position_order(streams: Collection[list[Stored]]) -> list[Stored]:
    """Many persons' events as one list in global order (each person's stream order kept)."""
    return sorted((s for stream in streams for s in stream), key=lambda s: s[0])


def first_recorded(streams: Mapping[str, list[Stored]]) -> dict[str, datetime]:
    """When each person's first event of ``streams`` was recorded."""
    return {psn_no: stream[0][1].recorded_at for psn_no, stream in streams.items() if stream}
