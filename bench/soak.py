"""Soak (issue 9): the chaos test's mixed load on the whole stack for 5 minutes, with no kills.

The stack and the load are the chaos test's (``tests/support/stack.py``, ``mixed_load.py``): a
Tansu broker, ``enrollment serve``, ``settlement serve --no-consumer`` and ``settlement consume``
as separate processes on PostgreSQL; registrations, tax-feed payments and settlements from three
hospitals, with lost answers retried under the same key. ``SOAK_SECONDS`` shortens it (default
300); the first fifth (at most 60 s) is the warm-up.

It reports the calls answered and the error rate (any answer the load did not expect, and any
call that got no answer: must be 0), and each process's resident memory (VmRSS from
/proc/PID/status) after the warm-up and at the end (aim: less than 10 % growth for the services;
Tansu holds its log in memory, so its growth is shown per message it took). Then it checks the
end state as the chaos test does: everything acknowledged exactly once, the reconciliation and
``settlement verify`` clean.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.support.exactly_once import audit
from tests.support.mixed_load import MixedLoad
from tests.support.stack import PG_ADMIN_DSN, PROCESSES, Stack, fresh_database, running_stack

SECONDS = float(os.environ.get("SOAK_SECONDS", "300"))
WARM_UP = min(60.0, SECONDS / 5)
GROWTH_AIM = 0.10
SERVICES = [name for name in PROCESSES if name != "broker"]


@dataclass(frozen=True)
class Sample:
    """The processes' resident memory (KiB) and the messages the broker holds, at one time."""

    at: float
    rss: dict[str, int]
    messages: int  # enrollment.events published (each event once, no kills) and tax payments


def sample(stack: Stack, load: MixedLoad) -> Sample:
    with psycopg.connect(stack.env["ENROLLMENT_DATABASE_URL"]) as conn:
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]  # type: ignore[index]
    rss = {name: stack.rss_kib(name) for name in PROCESSES}
    return Sample(time.monotonic(), rss, int(events) + len(load.acks.payments))


async def soak(stack: Stack, load: MixedLoad) -> tuple[Sample, Sample]:
    """Run the load; samples after the warm-up and at the end."""
    stop = asyncio.Event()
    driving = asyncio.create_task(load.run(stop))
    try:
        await asyncio.sleep(WARM_UP)
        warm = await asyncio.to_thread(sample, stack, load)
        await asyncio.sleep(SECONDS - WARM_UP)
        end = await asyncio.to_thread(sample, stack, load)
    finally:
        stop.set()
        await driving
    return warm, end


def report(load: MixedLoad, warm: Sample, end: Sample) -> None:
    """Print the calls, the errors and the memory table."""
    tally = load.tally
    calls = sum(tally.answered.values())
    print(f"   {SECONDS:.0f} s of mixed load (warm-up {WARM_UP:.0f} s), no kills")
    for kind, count in sorted(tally.answered.items()):
        print(f"   {kind:<10} {count:7,} answered  {count / SECONDS:7.1f}/s")
    print(
        f"   errors     {len(tally.errors):7,} of {calls:,} calls: error rate"
        f" {tally.error_rate():.4%} | retried after no answer: {sum(tally.retried.values())}"
        f" | lost answers replayed: {tally.replays}"
    )
    for error in tally.errors[:5]:
        print(f"     {error}")
    print(f"   {'process':<12}{'RSS after warm-up':>20}{'RSS at end':>14}{'growth':>9}")
    grew = {}
    for name in PROCESSES:
        grew[name] = (end.rss[name] - warm.rss[name]) / warm.rss[name]
        print(
            f"   {name:<12}{warm.rss[name] / 1024:16.1f} MiB{end.rss[name] / 1024:10.1f} MiB"
            f"{grew[name]:+9.1%}"
        )
    # Tansu keeps its log in memory (make run's broker; Kafka keeps it on disk): it grows with
    # every message it holds, by design. Shown per message, so a leak would stand out.
    added = end.messages - warm.messages
    per_message = (end.rss["broker"] - warm.rss["broker"]) * 1024 / max(1, added)
    print(f"   broker: its in-memory log took {added:,} messages, {per_message:,.0f} B of RSS each")
    services_ok = all(grew[name] < GROWTH_AIM for name in SERVICES)
    print(
        f"   over {end.at - warm.at:.0f} s measured: error rate 0:"
        f" {'OK' if not tally.errors else 'MISS'} | services' growth < {GROWTH_AIM:.0%}:"
        f" {'OK' if services_ok else 'MISS'}"
    )


def end_state(stack: Stack, load: MixedLoad) -> None:
    """The chaos test's end checks, printed."""
    reconcile = stack.run(
        "enrollment", "reconcile", "--settlement-url", stack.url("settlement"),
        "--grace", "0", "--wait", "120", timeout=300,
    )  # fmt: skip
    lines = reconcile.stdout.strip().splitlines()
    summary = json.loads(lines[-1]) if lines else {}
    verify = stack.run("settlement", "verify", timeout=300)
    problems = audit(stack, load.acks)
    print(
        f"   end state: reconcile {'clean' if reconcile.returncode == 0 else 'NOT clean'}"
        f" ({summary.get('compared', '?')} persons)"
        f" | verify {'clean' if verify.returncode == 0 else 'NOT clean'}"
        f" | exactly once: {'yes' if not problems else problems}"
    )


async def run(stack: Stack) -> None:
    admin = await asyncio.to_thread(stack.admin_token)
    hospitals = await asyncio.gather(
        asyncio.to_thread(stack.add_hospital, "H1", 1, primary_care=True),
        asyncio.to_thread(stack.add_hospital, "H2", 2),
        asyncio.to_thread(stack.add_hospital, "H3", 3),
    )
    load = MixedLoad(stack, admin, list(hospitals))
    warm, end = await soak(stack, load)
    report(load, warm, end)
    await asyncio.to_thread(end_state, stack, load)


def main() -> None:
    try:
        psycopg.connect(PG_ADMIN_DSN, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        print(f"   needs PostgreSQL at {PG_ADMIN_DSN} ({exc}); skipped")
        return
    with fresh_database("bench") as enrollment_db, fresh_database("bench") as settlement_db:
        with (
            tempfile.TemporaryDirectory() as work,
            running_stack(Path(work), enrollment_db, settlement_db) as stack,
        ):
            asyncio.run(run(stack))


if __name__ == "__main__":
    main()
