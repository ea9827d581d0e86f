"""What-if speed (SPEC §10: a year of 1,000,000 claims in under a minute), beside the engine's own
rate measured in the same run.

A fresh database gets a year of settled claims written straight into the ledger (the claim
lines and accumulator changes the service writes, from the engine run in settlement order; the
answer bodies, which a what-if never reads, left out); then `what-if` runs the year under the
policy in force and a draft, in as many processes as the machine has cores. Printed: claims per
second of wall time, the time for the year, and the engine's single-core rate on the same claims
(two policies a claim: the what-if cannot beat half of it per core). Environment:
BENCH_WHATIF_CLAIMS (default 1,000,000), BENCH_WHATIF_DB (``sqlite``, default, or
``postgresql``: a scratch database on TEST_POSTGRES_DSN), BENCH_WHATIF_WORKERS.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import resource
import sqlite3
import tempfile
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from services.settlement import migrations
from services.settlement.domain.rerun import read_line
from services.settlement.engine import Accumulator, Policy, PolicyRegistry, Rejected, adjudicate
from services.settlement.engine.policy import POLICY_DIR
from services.settlement.service_layer.what_if import what_if

CLAIMS = int(os.environ.get("BENCH_WHATIF_CLAIMS", "1000000"))
DATABASE = os.environ.get("BENCH_WHATIF_DB", "sqlite")
WORKERS = int(os.environ["BENCH_WHATIF_WORKERS"]) if "BENCH_WHATIF_WORKERS" in os.environ else None
ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
CLAIMS_PER_PERSON = 5
CENT = Decimal("0.01")
MIX = (
    ["inpatient"] * 2
    + ["chronic_outpatient"] * 2
    + ["general_outpatient"] * 5
    + ["accident_outpatient"]
)
LIMITS = {"inpatient": 60_000, "chronic_outpatient": 8_000, "general_outpatient": 300,
          "accident_outpatient": 2_000}  # fmt: skip
DISEASES = ("C34.901", "N18.5", "Z94.0", "C91.0", "D66", "I10")  # I10: not on the list
COLUMNS = ("entry_type", "setl_id", "hospital_id", "mdtrt_id", "psn_no", "insurance_year",
           "med_type", "response", "delta", "created_at", "policy_name", "policy_sha256",
           "region", "claim")  # fmt: skip


def draft() -> Policy:
    """Liaocheng's figures with a lower level-3 deductible and a richer catastrophic band."""
    text = (POLICY_DIR / "liaocheng-2024.toml").read_text(encoding="utf-8")
    text = text.replace('name = "liaocheng-2024"', 'name = "bench-draft"', 1)
    text = text.replace("deductible = 900", "deductible = 800", 1)
    text = text.replace("{ from = 11000, ratio = 0.60 }", "{ from = 10000, ratio = 0.65 }", 1)
    return Policy.from_toml(text, "bench-draft.toml")


def claim_line(rng: random.Random, n: int, persons: int) -> str:
    kind = rng.choice(MIX)
    total = Decimal(rng.randint(100, LIMITS[kind] * 100)) * CENT
    wholly = (total * Decimal(rng.randint(0, 10)) / 100).quantize(CENT)
    day = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T08:00:00"
    level = rng.choice((1, 2, 3))
    return json.dumps(
        {"psn_no": f"P{rng.randrange(persons):07d}", "mdtrt_id": f"M{n}", "med_type": kind,
         "begntime": day, "endtime": day, "medfee_sumamt": f"{total:.2f}",
         "fulamt_ownpay_amt": f"{wholly:.2f}", "overlmt_selfpay": "0.00",
         "preselfpay_amt": "0.00", "dise_codg": rng.choice(DISEASES),
         "hospital": {"level": level, "public": rng.random() < 0.6,
                      "primary_care": kind == "general_outpatient" or level == 1},
         "person": {"identity": "ordinary", "medical_assistance": False}},
        separators=(",", ":"),
    )  # fmt: skip


def ledger_rows(count: int, policy: Policy) -> list[tuple[Any, ...]]:
    """``count`` settlements of a year as the service would have posted them, in settlement
    order (claims the engine refuses are drawn, never posted, and replaced by further claims)."""
    rng = random.Random(2024)
    totals: dict[str, Accumulator] = {}
    created = datetime(2024, 6, 1, tzinfo=UTC).isoformat()
    rows: list[tuple[Any, ...]] = []
    for n in itertools.count():
        if len(rows) == count:
            break
        line = claim_line(rng, n, max(1, count // CLAIMS_PER_PERSON))
        claim, hospital, coverage = read_line(line)
        before = totals.get(claim.psn_no, Accumulator.zero())
        try:
            result = adjudicate(policy, claim, hospital, before, coverage)
        except Rejected:
            continue  # refused: never in the ledger
        totals[claim.psn_no] = after = result.accumulator_after
        delta = json.dumps(after.delta_from(before).to_dict(), sort_keys=True)
        rows.append(("settlement", f"S{n:09d}", 1, f"M{n}", claim.psn_no, 2024,
                     str(claim.med_type), "{}", delta, created, policy.name, policy.sha256,
                     "371502", line))  # fmt: skip
    return rows


def load_sqlite(path: Path, rows: list[tuple[Any, ...]]) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO hospitals (code, name, level, public, primary_care, key_hash, active,"
            " created_at) VALUES ('B', 'bench', 3, 1, 0, 'x', 1, '2024-01-01')"
        )
        marks = ", ".join("?" for _ in COLUMNS)
        conn.executemany(f"INSERT INTO ledger ({', '.join(COLUMNS)}) VALUES ({marks})", rows)


def load_postgres(url: str, rows: list[tuple[Any, ...]]) -> None:
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO hospitals (code, name, level, public, primary_care, key_hash, active,"
            " created_at) VALUES ('B', 'bench', 3, true, false, 'x', true, now())"
        )
        with conn.cursor().copy(f"COPY ledger ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.execute("ANALYZE ledger")


def scratch_database(tmp: str) -> tuple[str, Any]:
    """A migrated scratch database: (URL, how to drop it)."""
    if DATABASE != "postgresql":
        url = f"sqlite:///{tmp}/what_if.db"
        migrations.upgrade(url)
        return url, lambda: None
    import psycopg

    name = f"bench_whatif_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    migrations.upgrade(url)

    def drop() -> None:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


def engine_rate(rows: list[tuple[Any, ...]], policy: Policy) -> float:
    """The engine alone on the same claims: adjudications per CPU second of one core."""
    sample = [read_line(row[-1]) for row in rows[:100_000]]
    totals: dict[str, Accumulator] = {}
    started = time.process_time()
    for claim, hospital, coverage in sample:
        before = totals.get(claim.psn_no, Accumulator.zero())
        result = adjudicate(policy, claim, hospital, before, coverage)
        totals[claim.psn_no] = result.accumulator_after
    return len(sample) / (time.process_time() - started)


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the what-if's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    registry = PolicyRegistry.load("liaocheng-2024")
    in_force = registry.policies[0]
    started = time.perf_counter()
    rows = ledger_rows(CLAIMS, in_force)
    count = len(rows)
    with tempfile.TemporaryDirectory() as tmp:
        url, drop = scratch_database(tmp)
        try:
            if DATABASE == "postgresql":
                load_postgres(url, rows)
            else:
                load_sqlite(Path(tmp) / "what_if.db", rows)
            print(f"{count:,} settled claims of 2024 on {DATABASE} "
                  f"(set up in {time.perf_counter() - started:.0f}s)")  # fmt: skip
            engine = max(engine_rate(rows, in_force) for _ in range(3))
            del rows  # the workers read the database, not this list
            began, cpu_before = time.perf_counter(), _cpu()
            report = asyncio.run(what_if(url, registry, draft(), 2024, (), WORKERS))
            wall, cpu = time.perf_counter() - began, _cpu() - cpu_before
        finally:
            drop()
    assert report["claims"] == count
    assert report["exactness"]["claims_differing_from_ledger"] == 0
    print(
        f"  what-if, in force and draft: {count / wall:>9,.0f} claims/s wall, the year in "
        f"{wall:.1f}s ({os.cpu_count()} cores; the target: under 60s for 1,000,000)"
    )
    print(
        f"                               {count / cpu:>9,.0f} claims/s per CPU second "
        f"({cpu:.1f}s of CPU in all, which a busy machine's wall time hides)"
    )
    print(f"  engine alone, one core:      {engine:>9,.0f} adjudications/s CPU "
          f"(a what-if does two a claim: {engine / 2:,.0f} claims/s a core at best)")  # fmt: skip


if __name__ == "__main__":
    main()
