"""Settlements per second and latency over HTTP on PostgreSQL, beside pgbench's TPC-B rate.

A fresh database gets two hospitals and PERSONS paid-up persons written straight into the
coverage projection; `settlement serve` runs on a free port; 8 and then 32 concurrent HIS
clients post settlements (each a new visit, random person) for SECONDS seconds. The clients are
one load-generator process of raw HTTP/1.1 keep-alive connections (one per client), so that the
load generator's own CPU stays small beside the server's. For scale, the same clients first
measure an empty FastAPI POST on the same uvicorn setup (the HTTP stack's ceiling). pgbench's
built-in TPC-B-like script then runs on the same server in a scratch database, and the ratio of
the rates is printed. Environment: BENCH_SECONDS, BENCH_PERSONS, BENCH_WORKERS (e.g. "1,2").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
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
from typing import Any

import httpx
import psycopg
from fastapi import FastAPI, Request, Response

from services.settlement import migrations
from services.settlement.adapters import hospitals
from services.settlement.domain import projection
from shared.tansu import free_port, wait_for_port
from tests.support.sample_events import Stream, claim

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


PATH = "/api/v1/settlements"


async def _raw_clients(
    port: int, keys: list[str], persons: list[str], n: int, seconds: float
) -> tuple[int, list[float]]:
    """n HIS clients, each one keep-alive HTTP/1.1 connection written and read by hand.

    httpx costs more CPU per request than the server's whole settlement; on a 2-core machine
    that CPU is taken from the server. Here a request is a few bytes formatted and written, an
    answer its headers and Content-Length body read back.
    """
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds
    clock = time.perf_counter

    async def one(i: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = (
            f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {keys[i % len(keys)]}\r\n"
            "Content-Type: application/json\r\n"
        )
        try:
            while clock() < stop_at:
                body = json.dumps(
                    claim(random.choice(persons), total="3000.00", wholly="100.00", class_b="0")
                ).encode()
                request = (
                    f"{head}Idempotency-Key: {uuid.uuid4().hex}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                ).encode() + body
                started = clock()
                writer.write(request)
                headers = await reader.readuntil(b"\r\n\r\n")
                match = _LENGTH.search(headers)
                assert match is not None, headers  # uvicorn sends Content-Length here
                await reader.readexactly(int(match.group(1)))
                latencies.append(clock() - started)
                if not headers.startswith(b"HTTP/1.1 201"):
                    errors += 1
        finally:
            writer.close()

    await asyncio.gather(*(one(i) for i in range(n)))
    return errors, latencies


_LENGTH = re.compile(rb"(?i)\r\ncontent-length: *(\d+)")


def _client_process(args: tuple[int, list[str], list[str], int, float]) -> tuple[int, list[float]]:
    port, keys, persons, n, seconds = args
    with contextlib.suppress(ImportError):
        import uvloop

        return uvloop.run(_raw_clients(port, keys, persons, n, seconds))
    return asyncio.run(_raw_clients(port, keys, persons, n, seconds))


def _load(
    port: int, keys: list[str], persons: list[str], n: int, seconds: float = SECONDS
) -> tuple[int, list[float]]:
    """n HIS clients in one load-generator process of their own."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(_client_process, ((port, keys, persons, n, seconds),))


def empty_app() -> Any:
    """The ceiling: a FastAPI POST that reads the body and answers fixed bytes, nothing else."""
    app = FastAPI()

    @app.post(PATH)
    async def settle(request: Request) -> Response:
        await request.body()
        return Response(b'{"setl_id":"S0"}', status_code=201, media_type="application/json")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _serve(url: str, workers: int, *, empty: bool = False) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "SETTLEMENT_DATABASE_URL": url}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    if empty:
        command = [
            "-m",
            "uvicorn",
            "bench.settlement_api:empty_app",
            "--factory",
            "--log-level",
            "warning",
            "--no-access-log",
        ]
    else:
        command = ["-c", "from services.settlement.entrypoints.cli import main; main()", "serve"]
        command += ["--no-consumer"]
    proc = subprocess.Popen(
        [sys.executable, *command, "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, 30)
    for _ in range(100):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    return proc, port


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


def _measure(port: int, keys: list[str], persons: list[str], n: int) -> tuple[Any, ...]:
    errors, lat = _load(port, keys, persons, n)
    lat.sort()
    rate = len(lat) / SECONDS
    p50 = statistics.median(lat) * 1000
    p99 = lat[max(0, int(len(lat) * 0.99) - 1)] * 1000
    return n, rate, p50, p99, errors


def main() -> None:
    rows = []
    ceilings = []
    for workers in WORKERS:
        name, url = _create_db("bench_settlement")
        try:
            keys, persons = _seed(url)
            proc, port = _serve(url, workers, empty=True)
            try:
                _load(port, keys, persons, 4, 1.0)  # warm-up
                ceilings.append((workers, *_measure(port, keys, persons, CLIENTS[0])))
            finally:
                proc.terminate()
                proc.wait(15)
            proc, port = _serve(url, workers)
            try:
                _load(port, keys, persons, 4, 1.0)  # warm-up
                for n in CLIENTS:
                    rows.append((workers, *_measure(port, keys, persons, n)))
            finally:
                proc.terminate()
                proc.wait(15)
        finally:
            _drop_db(name)
    tps = _pgbench()
    print(f"   pgbench TPC-B-like, -c 8 -j 2 -T 10, scale 10: {tps:,.0f} tps")
    print("   load generator: one process, raw HTTP/1.1 keep-alive, one connection per client")
    print("   workers clients  settlements/s   p50 ms   p99 ms  errors  ratio to pgbench")
    for workers, n, rate, p50, p99, errors in rows:
        print(
            f"   {workers:>7} {n:>7} {rate:>15,.0f} {p50:>8.1f} {p99:>8.1f} {errors:>7}"
            f"  {rate / tps:>15.2f}"
        )
    print("   ceiling: an empty FastAPI POST (reads the body, fixed answer), same client")
    for workers, n, rate, p50, p99, errors in ceilings:
        print(
            f"   {workers:>7} {n:>7} {rate:>15,.0f} {p50:>8.1f} {p99:>8.1f} {errors:>7}"
            f"  {rate / tps:>15.2f}"
        )


if __name__ == "__main__":
    main()
