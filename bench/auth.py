"""What authentication costs per call (SPEC §8), beside the same call without it, in one run.

In-process (ASGI, no HTTP socket), on PostgreSQL (fresh databases, dropped after) when
127.0.0.1:5432 answers, else SQLite files, so the few tens of microseconds at stake are not lost
in a socket's noise:

* enrollment ``GET /api/v1/persons/{psn_no}`` with a staff token (SHA-256, one indexed lookup),
  with a signed access token (Ed25519 verification, then the staff row for a disabled check),
  and with authentication replaced by a fixed staff member (the same call with none);
* settlement ``GET /api/v1/ops/applied-versions`` with a signed token (the public key alone)
  beside the same call with none;
* the settle call itself (``POST /api/v1/settlements``, a hospital key) as the yardstick: the
  aim is an authentication under 5 % of it.

Each variant runs ROUNDS rounds of CALLS calls, interleaved, and the median per-call time is
taken (other processes share the machine). On PostgreSQL enrollment keeps the staff members it
has read until the registry changes (a NOTIFY empties the cache); on SQLite it reads the row on
every call. Environment: BENCH_AUTH_CALLS, BENCH_AUTH_ROUNDS, BENCH_AUTH_DB (sqlite|postgresql).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from fastapi import Request
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from services.enrollment import bootstrap as enrollment_bootstrap
from services.enrollment.domain.access import Caller
from services.enrollment.domain.staff import Actor, new_staff
from services.enrollment.entrypoints.api.app import create_app as enrollment_app
from services.enrollment.entrypoints.api.schemas import PersonPublic
from services.enrollment.service_layer.staff import add_staff, authenticate
from services.enrollment.settings import Settings as EnrollmentSettings
from services.settlement import migrations as settlement_migrations
from services.settlement.adapters import hospitals
from services.settlement.domain import projection
from services.settlement.entrypoints.api import applied_versions
from services.settlement.entrypoints.api.app import create_app as settlement_app
from services.settlement.settings import Settings as SettlementSettings
from shared import staff_tokens
from shared.db import make_engine, make_sessionmaker
from shared.route_policy import POLICY_KEY, PUBLIC
from shared.staff_tokens import StaffClaims
from tests.support.sample_events import Stream, claim

ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
CALLS = int(os.environ.get("BENCH_AUTH_CALLS", "100"))
ROUNDS = int(os.environ.get("BENCH_AUTH_ROUNDS", "9"))
Call = Callable[[], Awaitable[httpx.Response]]
OK = httpx.Response(200)


async def _per_call(variants: dict[str, Call]) -> dict[str, float]:
    """Median seconds per call of each variant, rounds interleaved (each starting elsewhere)."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for round_ in range(ROUNDS):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:  # rotated
            call = variants[name]
            started = time.perf_counter()
            for _ in range(CALLS):
                answer = await call()
                assert answer.status_code == 200, (name, answer.text)
            samples[name].append((time.perf_counter() - started) / CALLS)
    return {name: statistics.median(times) for name, times in samples.items()}


async def _register(http: httpx.AsyncClient, token: str) -> str:
    """One person registered through the API: the path that reads them."""
    person = await http.post(
        "/api/v1/persons",
        headers=_bearer(token),
        json={
            "certno": "11010519491231002X",
            "name": "王芳",
            "category": "resident",
            "identity": "destitute",
            "region": "371502",
            "organization": "Dongchang street",
            "insurance_year": 2026,
        },
    )
    return f"/api/v1/persons/{person.json()['psn_no']}"


async def _enrollment(url: str, keys: tuple[Path, Path]) -> dict[str, float]:
    await enrollment_bootstrap.migrate_async(url)
    engine = make_engine(url)
    admin = new_staff("bench.admin", "admin")
    token = await add_staff(make_sessionmaker(engine), admin, actor=Actor("bench", "system"))
    await engine.dispose()
    signed, _ = staff_tokens.sign(staff_tokens.load_private_key(keys[0]), admin.name, "admin")
    settings = EnrollmentSettings(
        enrollment_database_url=url,
        payment_consumer_enabled=False,
        staff_token_private_key_file=keys[0],
        staff_token_public_key_file=keys[1],
    )
    app = enrollment_app(settings, run_relay=False)

    # The same call with no authentication: the route's own handler, without its dependency.
    @app.get("/bench/persons/{psn_no}", openapi_extra={POLICY_KEY: PUBLIC.as_openapi()})
    async def unauthenticated_read(psn_no: str, request: Request) -> PersonPublic:
        enrollment = request.app.state.enrollment
        return PersonPublic.of(await enrollment.person(psn_no, Caller.of(admin)))

    async with app.router.lifespan_context(app), _client(app) as http:
        path = await _register(http, token)
        sessionmaker, cache = app.state.sessionmaker, app.state.staff_cache
        keys_read = app.state.staff_token_keys  # read by the registration above
        for _ in range(500):  # PostgreSQL: the cache answers once its listener is connected
            if cache.live or make_url(url).get_backend_name() != "postgresql":
                break
            await asyncio.sleep(0.01)

        async def alone(credential: str, *, first_use: bool = False) -> httpx.Response:
            if first_use:  # neither the member nor the token seen before
                await authenticate(sessionmaker, credential, keys_read.public)
            else:
                await authenticate(sessionmaker, credential, keys_read.verifier, cache=cache)
            return OK

        figures = await _per_call(
            {
                "none": lambda: http.get("/bench" + path.removeprefix("/api/v1")),
                "staff token": lambda: http.get(path, headers=_bearer(token)),
                "signed token": lambda: http.get(path, headers=_bearer(signed)),
                "alone: staff token": lambda: alone(token),
                "alone: signed token": lambda: alone(signed),
                "first: staff token": lambda: alone(token, first_use=True),
                "first: signed token": lambda: alone(signed, first_use=True),
            }
        )
        return {**figures, "cached": float(cache.live)}


def _seed_settlement(url: str) -> tuple[str, str]:
    """A hospital (its key) and a paid-up person (their psn_no)."""
    settlement_migrations.upgrade(url)
    key, now = hospitals.new_key(), datetime.now(UTC)
    stream = Stream()
    state = projection.fold_all([stream.registered(), stream.paid()])
    assert state is not None
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO hospitals (code, name, level, public, primary_care, key_hash,"
                " active, created_at) VALUES ('B1', 'Bench', 3, true, true, :hash, true, :now)"
            ),
            {"hash": hospitals.hash_key(key), "now": now},
        )
        conn.execute(
            text(
                "INSERT INTO coverage_persons (psn_no, certno, last_version, state, updated_at)"
                " VALUES (:psn_no, :certno, :version, :state, :now)"
            ),
            {
                "psn_no": stream.psn_no,
                "certno": state.certno,
                "version": state.version,
                "state": projection.to_json(state),
                "now": now,
            },
        )
    engine.dispose()
    return key, stream.psn_no


async def _settlement(
    url: str, seeded: tuple[str, str], keys: tuple[Path, Path]
) -> dict[str, float]:
    key, psn_no = seeded
    signed, _ = staff_tokens.sign(staff_tokens.load_private_key(keys[0]), "bench.city", "city")
    claims = StaffClaims("bench.city", "city", datetime.max.replace(tzinfo=UTC))
    settings = {"SETTLEMENT_DATABASE_URL": url, "STAFF_TOKEN_PUBLIC_KEY_FILE": str(keys[1])}
    app = settlement_app(SettlementSettings.model_validate(settings))
    path = "/api/v1/ops/applied-versions"

    # The same call with no authentication: the route's own handler, without its dependency.
    @app.get("/bench/applied-versions", openapi_extra={POLICY_KEY: PUBLIC.as_openapi()})
    async def unauthenticated_page(request: Request) -> Any:
        return await applied_versions.list_applied_versions(request, claims)

    async with app.router.lifespan_context(app), _client(app) as http:

        async def settle() -> httpx.Response:
            answer = await http.post(
                "/api/v1/settlements",
                json=claim(psn_no, total="3000.00", wholly="100.00", class_b="0"),
                headers={**_bearer(key), "Idempotency-Key": uuid.uuid4().hex},
            )
            return httpx.Response(200) if answer.status_code == 201 else answer

        public = staff_tokens.load_public_key(keys[1])
        verifier = staff_tokens.Verifier(public)

        async def alone(*, first_use: bool = False) -> httpx.Response:
            staff_tokens.verify(public, signed) if first_use else verifier.verify(signed)
            return OK

        return await _per_call(
            {
                "none": lambda: http.get("/bench/applied-versions"),
                "signed token": lambda: http.get(path, headers=_bearer(signed)),
                "alone: signed token": alone,
                "first: signed token": lambda: alone(first_use=True),
                "settle": settle,
            }
        )


def _client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://bench")  # type: ignore[arg-type]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _report(enrollment: dict[str, float], settlement: dict[str, float]) -> None:
    settle = settlement["settle"]

    def share(seconds: float) -> str:
        return f"{seconds * 1e6:7.0f} µs = {seconds / settle:5.1%} of a settle call"

    cached = "members cached until the registry changes" if enrollment["cached"] else "no cache"
    print(f"   {CALLS} calls × {ROUNDS} rounds per variant, in process; medians per call")
    print("   authentication alone (what the staff dependency does per call):")
    print(f"     enrollment, staff token   {share(enrollment['alone: staff token'])} ({cached})")
    print(f"     enrollment, signed token  {share(enrollment['alone: signed token'])}")
    print(f"     settlement, signed token  {share(settlement['alone: signed token'])}")
    print("   the first call with a token (token verified, member read from the registry):")
    print(f"     enrollment, staff token   {share(enrollment['first: staff token'])}")
    print(f"     enrollment, signed token  {share(enrollment['first: signed token'])}")
    print(f"     settlement, signed token  {share(settlement['first: signed token'])}")
    print("   the same call with none and with a token (difference = authentication + noise):")
    for label, figures, tokens in (
        ("enrollment GET /persons/{psn_no}", enrollment, ("staff token", "signed token")),
        ("settlement GET /ops/applied-versions", settlement, ("signed token",)),
    ):
        print(f"     {label}: none {figures['none'] * 1e6:.0f} µs", end="")
        for name in tokens:
            print(f", {name} {(figures[name] - figures['none']) * 1e6:+.0f} µs", end="")
        print()
    print(f"   settlement POST /settlements (the yardstick): {settle * 1e6:.0f} µs")
    print("   aim: authentication under 5 % of the settle call")


@contextlib.contextmanager
def _databases(folder: Path) -> Iterator[tuple[str, str]]:
    """(enrollment URL, settlement URL): fresh PostgreSQL databases, or SQLite files."""
    kind = os.environ.get("BENCH_AUTH_DB") or ("postgresql" if _pg_reachable() else "sqlite")
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'enrollment.db'}", f"sqlite:///{folder / 'settlement.db'}"
        return
    names = [f"bench_auth_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        base = ADMIN_DSN.rsplit("/", 1)[0]
        yield f"{base}/{names[0]}", f"{base}/{names[1]}"
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), 0.5):
            return True
    except OSError:
        return False


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, _databases(Path(tmp)) as (enrolling, settling):
        folder = Path(tmp)
        keys = staff_tokens.ensure_key_pair(folder / "keys")
        enrollment = asyncio.run(_enrollment(enrolling, keys))
        settlement = asyncio.run(_settlement(settling, _seed_settlement(settling), keys))
    print(f"   database: {make_url(enrolling).get_backend_name()}")
    _report(enrollment, settlement)


if __name__ == "__main__":
    main()
