"""Sending stored events again: republish jobs (the cursor moves with each batch, a crash resumes
it, each person's events stay in stream order) and the reconciliation against a settlement that
is behind, missing persons, ahead or has persons enrollment never wrote — healed from the first
version settlement lacks, and clean afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from services.enrollment import metrics
from services.enrollment.adapters import republish
from services.enrollment.adapters.recovery_tables import reconciliation_runs, republish_jobs
from services.enrollment.adapters.tables import outbox
from services.enrollment.bootstrap import migrate_async, unit_of_work_factory
from services.enrollment.domain.reconciliation import Kind
from services.enrollment.domain.state import numbered
from services.enrollment.service_layer.reconcile import Reconciliation, republish_from
from shared.db import make_engine, make_sessionmaker
from shared.events import TOPIC_ENROLLMENT_EVENTS, Event
from tests.integration.enrollment.test_relay import changed, registered

pytestmark = pytest.mark.integration


@pytest.fixture
async def database(db_url):
    await migrate_async(db_url)
    engine = make_engine(db_url)
    yield engine, make_sessionmaker(engine)
    await engine.dispose()


async def write(sessionmaker, streams: dict[str, int]) -> list[Event]:
    """Each person's stream to the given length, interleaved as real traffic is."""
    written: list[Event] = []
    for step in range(max(streams.values())):
        for n, (psn_no, length) in enumerate(streams.items()):
            if step >= length:
                continue
            payload = registered(n) if step == 0 else changed(step)
            async with unit_of_work_factory(sessionmaker)() as uow:
                [event] = numbered(psn_no, step, [payload], actor="system")
                await uow.events.append_many([event])
                await uow.commit()
            written.append(event)
    return written


async def drain(engine) -> list[tuple[int, Event]]:
    """Take the outbox's rows (as the relay would), in id order: (position, event)."""
    async with engine.begin() as conn:
        rows = (await conn.execute(select(outbox).order_by(outbox.c.id))).all()
        await conn.execute(delete(outbox))
    for row in rows:
        assert row.topic == TOPIC_ENROLLMENT_EVENTS
        assert row.key == Event.from_json(row.value).psn_no
    return [(row.event_position, Event.from_json(row.value)) for row in rows]


async def test_republish_queues_every_event_from_a_position_in_order(database):
    engine, sessionmaker = database
    written = await write(sessionmaker, {"PA": 4, "PB": 2, "PC": 3})
    await drain(engine)  # published long ago
    before = metrics.EVENTS_REPUBLISHED.labels(republish.OPERATOR)._value.get()

    seen = []
    job = await republish_from(engine, 3, seen.append, batch_size=2)
    queued = await drain(engine)

    assert [p for p, _ in queued] == list(range(3, len(written) + 1))
    assert [e.event_id for _, e in queued] == [e.event_id for e in written[2:]]
    assert queued[0][1] == written[2]  # the envelope as it was written
    assert job.finished and job.enqueued == len(written) - 2
    assert [j.enqueued for j in seen] == [2, 4, 6, 7]  # a batch at a time, the cursor moving
    assert metrics.EVENTS_REPUBLISHED.labels(republish.OPERATOR)._value.get() - before == 7


async def test_a_job_survives_a_crash_and_older_jobs_go_first(database):
    engine, sessionmaker = database
    written = await write(sessionmaker, {"PA": 3, "PB": 3})
    await drain(engine)
    async with engine.begin() as conn:  # the relay noticed a loss...
        await republish.open_job(
            conn, "enrollment.events", from_position=1, cause=republish.BROKER_LOSS, detail="t"
        )
    assert await republish.step(engine, 4) == 4  # ...queued one batch, and died
    assert await republish.step(engine, 4) == 2  # the next process goes on from the cursor
    assert await republish.step(engine, 4) == 0  # nothing open any more
    assert [e.event_id for _, e in await drain(engine)] == [e.event_id for e in written]
    async with engine.connect() as conn:
        [row] = (await conn.execute(select(republish_jobs))).all()
    assert row.finished_at is not None and row.enqueued == 6 and row.after_position == 6


class FakeSettlement:
    """Settlement's applied versions, served in pages of ``page_size`` as the route does."""

    def __init__(self, applied: dict[str, int], page_size: int = 2) -> None:
        self.applied = applied
        self.page_size = page_size
        self.requests = 0

    async def pages(self, after, through):
        keys = sorted(k for k in self.applied if k > after and (through is None or k <= through))
        for start in range(0, len(keys), self.page_size):
            self.requests += 1
            yield [(k, self.applied[k]) for k in keys[start : start + self.page_size]]


async def test_reconcile_names_every_difference_heals_and_is_then_clean(database):
    engine, sessionmaker = database
    psn = {name: f"P{name}{uuid.uuid4().hex[:6].upper()}" for name in "ABCDEFG"}
    written = await write(
        sessionmaker,
        {psn["A"]: 3, psn["B"]: 2, psn["C"]: 4, psn["D"]: 1, psn["E"]: 2, psn["F"]: 2},
    )
    await drain(engine)
    applied = {psn["A"]: 3, psn["B"]: 1, psn["C"]: 1, psn["D"]: 2, psn["E"]: 2, psn["G"]: 5}
    settlement = FakeSettlement(applied)  # F missing, G unknown, D ahead, B and C behind
    found = []
    job = Reconciliation(
        engine, settlement, heal=True, grace=timedelta(0), batch_size=2
    )  # three ranges of persons, each read from settlement in pages of two
    tally = await job.run(lambda d, queued: found.append((d.psn_no, d.kind, queued)))

    assert sorted(found) == sorted(
        [
            (psn["B"], Kind.BEHIND, 1),
            (psn["C"], Kind.BEHIND, 3),
            (psn["D"], Kind.AHEAD, 0),
            (psn["F"], Kind.MISSING, 2),
            (psn["G"], Kind.UNKNOWN, 0),
        ]
    )
    assert tally.compared == 6 and not tally.clean and tally.healed_events == 6
    queued = await drain(engine)
    streams = defaultdict(list)
    for _, event in queued:
        streams[event.psn_no].append(event.stream_version)
    assert dict(streams) == {psn["B"]: [2], psn["C"]: [2, 3, 4], psn["F"]: [1, 2]}  # in order
    by_id = {e.event_id: e for e in written}
    assert all(by_id[e.event_id] == e for _, e in queued)
    async with engine.connect() as conn:
        run = (await conn.execute(select(reconciliation_runs))).one()
    assert (run.behind, run.missing, run.ahead, run.unknown, run.clean) == (2, 1, 1, 1, False)
    assert metrics.RECONCILIATION_DIFFERENCES.labels("behind")._value.get() == 2

    # Settlement applies what was queued; D and G are for a person to look at, never healed.
    settlement.applied.update({psn["B"]: 2, psn["C"]: 4, psn["F"]: 2})
    del settlement.applied[psn["G"]]
    settlement.applied[psn["D"]] = 1
    again = await job.run(lambda d, queued: found.append(d))
    assert again.clean and again.compared == 6
    assert metrics.RECONCILIATION_DIFFERENCES.labels("behind")._value.get() == 0
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(reconciliation_runs)) == 2


async def test_recent_events_are_in_flight_and_not_healed_twice(database):
    engine, sessionmaker = database
    await write(sessionmaker, {"PX": 2, "PY": 1})
    await drain(engine)
    settlement = FakeSettlement({"PX": 1})
    waiting = Reconciliation(engine, settlement, heal=True, grace=timedelta(minutes=5))
    kinds = []
    tally = await waiting.run(lambda d, queued: kinds.append((d.psn_no, d.kind, queued)))
    assert kinds == [("PX", Kind.IN_FLIGHT, 0), ("PY", Kind.IN_FLIGHT, 0)]
    assert tally.clean and await drain(engine) == []

    healing = Reconciliation(engine, settlement, heal=True, grace=timedelta(0))
    await healing.run(lambda d, queued: None)
    assert len(await drain(engine)) == 2
    await healing.run(lambda d, queued: None)  # still behind: already queued by this command
    assert await drain(engine) == []


ENROLLMENT = Path(sys.executable).parent / "enrollment"


async def test_the_commands_print_progress_and_say_when_settlement_cannot_be_asked(sqlite_url):
    await migrate_async(sqlite_url)
    engine = make_engine(sqlite_url)
    await write(make_sessionmaker(engine), {"PA": 2, "PB": 1})
    await drain(engine)
    # No key to sign a token with and none given: settlement cannot be asked.
    env = {k: v for k, v in os.environ.items() if k != "STAFF_TOKEN_PRIVATE_KEY_FILE"}
    env |= {"ENROLLMENT_DATABASE_URL": sqlite_url, "SETTLEMENT_ACCESS_TOKEN": ""}

    def enrollment(*arguments: str) -> subprocess.CompletedProcess[str]:
        command = [str(ENROLLMENT), *arguments]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    done = enrollment("republish", "--from-position", "2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("done: 2 events (positions 2..3) queued")
    assert [(e.psn_no, e.stream_version) for _, e in await drain(engine)] == [("PB", 1), ("PA", 2)]

    refused = enrollment("reconcile", "--settlement-url", "http://127.0.0.1:9")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "no token" in refused.stderr
    await engine.dispose()
