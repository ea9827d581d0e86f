"""Both services served over real HTTP for the fuzz tests, with the callers they need.

Each service runs as it does in production (uvicorn; settlement on uvloop and httptools, as
``settlement serve`` runs it), in a thread of the test process, on PostgreSQL when a server answers
(the production database: a NUL that reaches it is a 500) and SQLite otherwise. The data is a
person registered and paid on both sides, so a fuzzed call reaches the handlers' rules; the
callers are a hospital key, an enrollment admin (staff token and password) and a signed access
token for settlement's staff routes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.enrollment.domain.staff import Actor, new_staff
from services.enrollment.entrypoints.api.app import create_app as enrollment_app
from services.enrollment.service_layer.staff import add_staff
from services.enrollment.settings import Settings as EnrollmentSettings
from services.settlement import migrations
from services.settlement.adapters import coverage_store, hospitals
from services.settlement.entrypoints.api.app import create_app as settlement_app
from services.settlement.settings import Settings as SettlementSettings
from shared import staff_tokens
from shared.db import make_engine, make_sessionmaker
from tests.support.sample_events import Stream
from tests.support.serve import served

ADMIN_PASSWORD = "fuzz-password-0123"  # the fuzzed admin's, for the login route


@dataclass
class Served:
    """A service answering on ``url``; ``headers`` authenticate its usual caller."""

    url: str
    headers: dict[str, str]
    extra: dict[str, Any] = field(default_factory=dict)


class ServerErrors(logging.Handler):
    """Every ERROR record the servers log (a 500, an exception escaping to uvicorn)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> list[str]:
        """The records since the last call, formatted with their tracebacks."""
        taken, self.records = self.records, []
        formatter = logging.Formatter("%(name)s: %(message)s")
        return [formatter.format(record) for record in taken]


def key_pair(folder: Path) -> tuple[Path, Path]:
    """The staff-token key pair both services are configured with."""
    return staff_tokens.ensure_key_pair(folder)


async def _settlement_data(url: str) -> tuple[str, str]:
    """A level-3 public hospital (its key) and a person registered and paid for 2024."""
    await migrations.upgrade_async(url)
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            _, key = await hospitals.add(conn, code="H3", name="City", level=3, public=True)
        person = Stream()
        for event in (person.registered(), person.paid()):
            async with engine.begin() as conn:
                await coverage_store.apply(conn, event)
    finally:
        await engine.dispose()
    return key, person.psn_no


@contextmanager
def settlement(url: str, keys: tuple[Path, Path]) -> Iterator[Served]:
    """The settlement service on ``url``'s database, answering its HIS API."""
    key, psn_no = asyncio.run(_settlement_data(url))
    settings = SettlementSettings(
        SETTLEMENT_DATABASE_URL=url, STAFF_TOKEN_PUBLIC_KEY_FILE=str(keys[1])
    )
    access, _ = staff_tokens.sign(staff_tokens.load_private_key(keys[0]), "admin", "admin")
    with served(settlement_app(settings), loop="uvloop", http="httptools") as base:
        yield Served(
            base,
            {"Authorization": f"Bearer {key}"},
            {"psn_no": psn_no, "staff": {"Authorization": f"Bearer {access}"}},
        )


async def _enrollment_admin(url: str) -> str:
    engine = make_engine(url)  # the app migrated it at start
    try:
        admin = new_staff("admin", "admin")
        actor = Actor("cli:fuzz", "system")
        return await add_staff(
            make_sessionmaker(engine), admin, actor=actor, password=ADMIN_PASSWORD
        )
    finally:
        await engine.dispose()


@contextmanager
def enrollment(url: str, keys: tuple[Path, Path]) -> Iterator[Served]:
    """The enrollment service on ``url``'s database (relay and tax feed off: this is HTTP)."""
    settings = EnrollmentSettings(
        enrollment_database_url=url,
        payment_consumer_enabled=False,
        staff_token_private_key_file=keys[0],
        staff_token_public_key_file=keys[1],
    )
    with served(enrollment_app(settings, run_relay=False)) as base:
        token = asyncio.run(_enrollment_admin(url))
        yield Served(base, {"Authorization": f"Bearer {token}"}, {"password": ADMIN_PASSWORD})
