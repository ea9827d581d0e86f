"""Settlements per second and latency over HTTP on PostgreSQL, beside pgbench's TPC-B rate.

A fresh database gets two hospitals and PERSONS paid-up persons written straight into the
coverage projection; `settlement serve` runs on a free port; 8 and then 32 concurrent async HIS
clients post settlements (each a new visit, random person) for SECONDS seconds. pgbench's
built-in TPC-B-like script then runs on the same server in a scratch database, and the ratio of
the two rates is printed. Environment: BENCH_SECONDS, BENCH_PERSONS, BENCH_WORKERS (e.g. "1,2").
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import re
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import httpx
import psycopg

from services.settlement import hospitals, migrations, projection
from services.settlement.sample import Stream, claim
from shared.tansu import free_port, wait_for_port

ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
PERSONS = int(os.environ.get("BENCH_PERSONS", "2000"))
WORKERS = [int(w) for w in os.environ.get("BENCH_WORKERS", "1,2").split(",")]
CLIENTS = (8, 32)


def _create_db(prefix: str) -> tuple[str, str]:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"{ADMIN_DSN.rsplit('/', 1)[0]}/{name}"


def _drop_db(name: str) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _seed(url: str) -> tuple[list[str], list[str]]:
    """Two hospitals (their keys) and PERSONS paid-up persons (their psn_no)."""
    migrations.upgrade(url)
    now = datetime.now(UTC)
    keys = [hospitals.new_key(), hospitals.new_key()]
    persons = []
    with psycopg.connect(url) as conn:
        for i, key in enumerate(keys):
            conn.execute(
                "INSERT INTO hospitals (code, name, level, public, primary_care, key_hash, active,"
                " created_at) VALUES (%s, %s, %s, true, true, %s, true, %s)",
                (f"B{i}", f"Bench {i}", 3 - i, hospitals.hash_key(key), now),
            )
        rows = []
        for i in range(PERSONS):
            s = Stream()
            state = projection.fold_all([s.registered(seq=i), s.paid()])
            assert state is not None
            rows.append((s.psn_no, state.certno, state.version, projection.to_json(state), now))
            persons.append(s.psn_no)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO coverage_persons (psn_no, certno, last_version, state, updated_at)"
                " VALUES (%s, %s, %s, %s, %s)",
                rows,
            )
    return keys, persons


async def _clients(
    url: str, keys: list[str], persons: list[str], n: int, seconds: float = SECONDS
) -> tuple[int, list[float]]:
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)

    async def one(client: httpx.AsyncClient, key: str) -> None:
        nonlocal errors
        headers = {"Authorization": f"Bearer {key}"}
        while time.perf_counter() < stop_at:
            body = claim(random.choice(persons), total="3000.00", wholly="100.00", class_b="0")
            started = time.perf_counter()
            r = await client.post(
                "/api/v1/settlements",
                json=body,
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            )
            latencies.append(time.perf_counter() - started)
            if r.status_code != 201:
                errors += 1

    # Each HIS client is its own httpx client with one keep-alive connection, as each hospital's
    # HIS is; one shared pool serialises on its lock and measures httpx rather than the server.
    clients = [httpx.AsyncClient(base_url=url, limits=limits, timeout=30) for _ in range(n)]
    try:
        await asyncio.gather(*(one(clients[i], keys[i % 2]) for i in range(n)))
    finally:
        for client in clients:
            await client.aclose()
    return errors, latencies


def _client_process(
    args: tuple[str, list[str], list[str], int, float, float],
) -> tuple[int, list[float]]:
    url, keys, persons, n, seconds, start_at = args
    time.sleep(max(0.0, start_at - time.time()))  # every process loads the server at once
    return asyncio.run(_clients(url, keys, persons, n, seconds))


def _load(url: str, keys: list[str], persons: list[str], n: int) -> tuple[int, list[float]]:
    """n HIS clients spread over up to 4 processes (hospitals are separate machines)."""
    procs = min(4, n)
    shares = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(procs) as pool:
        start_at = time.time() + 3  # after the processes have imported
        parts = pool.map(
            _client_process, [(url, keys, persons, k, SECONDS, start_at) for k in shares]
        )
    return sum(e for e, _ in parts), [x for _, lat in parts for x in lat]


def _serve(url: str, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "SETTLEMENT_DATABASE_URL": url}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from services.settlement.cli import main; main()",
            "serve",
            "--no-consumer",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, 30)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    return proc, base


def _pgbench() -> float:
    name, url = _create_db("bench_pgbench")
    try:
        subprocess.run(["pgbench", "-i", "-s", "10", "-q", url], check=True, capture_output=True)
        out = subprocess.run(
            ["pgbench", "-c", "8", "-j", "2", "-T", "10", url],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
        if match is None:
            match = re.search(r"tps = ([\d.]+)", out)
        assert match is not None, out
        return float(match.group(1))
    finally:
        _drop_db(name)


def main() -> None:
    rows = []
    for workers in WORKERS:
        name, url = _create_db("bench_settlement")
        try:
            keys, persons = _seed(url)
            proc, base = _serve(url, workers)
            try:
                asyncio.run(_clients(base, keys, persons, 4))  # warm-up
                for n in CLIENTS:
                    errors, lat = _load(base, keys, persons, n)
                    lat.sort()
                    rate = len(lat) / SECONDS
                    p50 = statistics.median(lat) * 1000
                    p99 = lat[int(len(lat) * 0.99) - 1] * 1000
                    rows.append((workers, n, rate, p50, p99, errors))
            finally:
                proc.terminate()
                proc.wait(15)
        finally:
            _drop_db(name)
    tps = _pgbench()
    print(f"   pgbench TPC-B-like, -c 8 -j 2 -T 10, scale 10: {tps:,.0f} tps")
    print("   workers clients  settlements/s   p50 ms   p99 ms  errors  ratio to pgbench")
    for workers, n, rate, p50, p99, errors in rows:
        print(
            f"   {workers:>7} {n:>7} {rate:>15,.0f} {p50:>8.1f} {p99:>8.1f} {errors:>7}"
            f"  {rate / tps:>15.2f}"
        )


if __name__ == "__main__":
    main()
