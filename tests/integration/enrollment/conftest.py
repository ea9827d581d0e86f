"""Fixtures for enrollment integration tests: a migrated database and its sessionmaker, and the
app served over real HTTP with its staff (SPEC §8: every call carries a staff token).

* ``client`` — an HTTP client acting as the ``admin`` of the cast;
* ``staff`` — cast name → ``{"Authorization": "Bearer …"}`` headers for every member of
  ``staff_cast.CAST`` (pass them per request to act as someone else).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.enrollment import bootstrap
from services.enrollment.domain.staff import Actor
from services.enrollment.entrypoints.api.app import create_app
from services.enrollment.settings import Settings
from shared import staff_tokens, tansu
from shared.db import make_engine, make_sessionmaker

from .staff_cast import CAST, REGION, TOWN_A, TOWN_B, Person, register_person


@pytest.fixture
async def migrated_url(db_url: str) -> str:
    await bootstrap.migrate_async(db_url)
    return db_url


@pytest.fixture
async def sessionmaker(migrated_url: str) -> AsyncIterator[async_sessionmaker[Any]]:
    engine = make_engine(migrated_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def token_keys(tmp_path) -> tuple[Path, Path]:
    """The staff-token key pair (private, public PEM files) the served app signs logins with."""
    return staff_tokens.ensure_key_pair(tmp_path / "keys")


@pytest.fixture
def base_url(db_url: str, token_keys: tuple[Path, Path]) -> Iterator[str]:
    """The app served by uvicorn in a thread (relay and consumer off: this is about HTTP)."""
    settings = Settings(
        enrollment_database_url=db_url,
        payment_consumer_enabled=False,
        staff_token_private_key_file=token_keys[0],
        staff_token_public_key_file=token_keys[1],
    )
    port = tansu.free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, run_relay=False), host="127.0.0.1", port=port, log_config=None
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    tansu.wait_for_port(port, timeout=30)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(15)


@pytest.fixture
async def staff(base_url: str, db_url: str) -> dict[str, dict[str, str]]:
    """The cast, registered in the served app's database: name → Authorization headers."""
    from services.enrollment.service_layer.staff import add_staff

    engine = make_engine(db_url)  # the app migrated it at start (base_url waited for it)
    try:
        sessionmaker = make_sessionmaker(engine)
        operator = Actor("cli:tests", "system")
        return {
            name: {"Authorization": f"Bearer {await add_staff(sessionmaker, who, actor=operator)}"}
            for name, who in CAST.items()
        }
    finally:
        await engine.dispose()


@pytest.fixture
async def client(
    base_url: str, staff: dict[str, dict[str, str]]
) -> AsyncIterator[httpx.AsyncClient]:
    """Acts as the cast's admin unless a request passes other headers."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60, headers=staff["admin"]) as http:
        yield http


@pytest.fixture
async def people(client: httpx.AsyncClient) -> tuple[Person, Person]:
    """Registered by the admin for YEAR: A inside the cast's scopes (371502, town A), B outside
    them (110105, town B)."""
    a = await register_person(client, 501, "甲某人", REGION, TOWN_A)
    b = await register_person(client, 502, "乙某人", "110105", TOWN_B)
    return a, b
