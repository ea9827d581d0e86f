"""The reconciliation of enrollment with settlement (issue 9), and ``enrollment republish``.

``reconcile`` walks enrollment's persons in psn_no order, a batch at a time (one ordered walk of
the events' (psn_no, stream_version) index), asks settlement for the same range of psn_nos, and
compares the two (``domain/reconciliation.py``). Memory holds one batch, so a million persons
cost a thousand round trips, not a million. Settlement's persons after enrollment's last are all
``unknown``. With ``heal``, the events each behind or missing person lacks are queued again in
the outbox (in position order: each stream in order), one transaction a batch; a person already
healed in an earlier pass of the same command is not queued twice. Each pass is kept in
``reconciliation_runs`` and sets the ``enrollment_reconciliation_differences`` gauges.

``republish`` opens a republish job from a position and advances it to the end, printing
progress; the relay, if it runs, advances the same job alongside.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from services.enrollment import metrics
from services.enrollment.adapters import reconciliation_runs, republish
from services.enrollment.domain.reconciliation import (
    HEALABLE,
    Difference,
    Kind,
    Tally,
    compare,
    triage,
)
from shared.events import TOPIC_ENROLLMENT_EVENTS, utcnow

Versions = list[tuple[str, int]]


class Settlement(Protocol):
    """What settlement applied: its (psn_no, version) pairs of a range of psn_nos."""

    def pages(self, after: str, through: str | None) -> AsyncIterator[Versions]: ...


Report = Callable[[Difference, int], None]
"""Told of each difference found and how many events were queued to heal it."""


@dataclass
class Reconciliation:
    """One ``enrollment reconcile``: its options and the persons it healed so far."""

    engine: AsyncEngine
    settlement: Settlement
    heal: bool = False
    grace: timedelta = timedelta(seconds=30)
    batch_size: int = 5000
    topic: str = TOPIC_ENROLLMENT_EVENTS
    healed: set[str] = field(default_factory=set)

    async def run(self, report: Report) -> Tally:
        """One pass over every person; kept in ``reconciliation_runs`` and the gauges."""
        started, tally, after = utcnow(), Tally(), ""
        while True:
            async with self.engine.connect() as conn:
                ours = await republish.last_versions(conn, after, self.batch_size)
            if not ours:
                async for theirs in self.settlement.pages(after, None):  # settlement's extra
                    await self._settle(tally, [], theirs, report)
                break
            through = ours[-1][0]
            theirs = [pair async for page in self.settlement.pages(after, through) for pair in page]
            await self._settle(tally, ours, theirs, report)
            after = through
        async with self.engine.begin() as conn:
            await reconciliation_runs.record(conn, started, tally)
        export(tally.by_kind, time.time())
        return tally

    async def _settle(self, tally: Tally, ours: Versions, theirs: Versions, report: Report) -> None:
        differences = compare(ours, theirs)
        lagging = {d.psn_no: d.settlement_version for d in differences if d.kind in HEALABLE}
        streams: dict[str, list[republish.Stored]] = {}
        if lagging:
            async with self.engine.connect() as conn:
                streams = await republish.streams_after(conn, lagging)
            differences = triage(
                differences, republish.first_recorded(streams), now=utcnow(), grace=self.grace
            )
        healing = {
            d.psn_no: streams.get(d.psn_no, [])
            for d in differences
            if self.heal and d.kind in HEALABLE and d.psn_no not in self.healed
        }
        if healing:
            queued = republish.in_position_order(healing.values())
            async with self.engine.begin() as conn:
                await republish.enqueue(conn, self.topic, queued)
            self.healed.update(healing)
            tally.healed_events += len(queued)
            metrics.EVENTS_REPUBLISHED.labels(republish.HEAL).inc(len(queued))
        tally.add(len(ours), differences)
        for d in differences:
            report(d, len(healing.get(d.psn_no, ())))


def export(by_kind: dict[Kind, int], finished_at: float) -> None:
    """The gauges of the last pass."""
    for kind, n in by_kind.items():
        metrics.RECONCILIATION_DIFFERENCES.labels(kind.value).set(n)
    metrics.RECONCILIATION_LAST_RUN.set(finished_at)


async def export_last_run(engine: AsyncEngine) -> None:
    """Set the gauges from the last pass kept (``/metrics`` calls it; another process ran it)."""
    async with engine.connect() as conn:
        last: dict[str, Any] | None = await reconciliation_runs.last(conn)
    if last is not None:
        export(last["by_kind"], last["finished_at"].timestamp())


async def republish_from(
    engine: AsyncEngine,
    from_position: int,
    progress: Callable[[republish.Job], None],
    *,
    topic: str = TOPIC_ENROLLMENT_EVENTS,
    batch_size: int = 1000,
) -> republish.Job:
    """Queue every stored event from ``from_position`` to the end now, batch by batch."""
    async with engine.begin() as conn:
        job = await republish.open_job(
            conn,
            topic,
            from_position=from_position,
            cause=republish.OPERATOR,
            detail=f"enrollment republish --from-position {from_position}",
        )
    while not job.finished:
        # Older open jobs go first (a broker loss's, say): this one's turn comes after them.
        await republish.step(engine, batch_size)
        async with engine.connect() as conn:
            job = await republish.get_job(conn, job.id)
        progress(job)
    return job
