"""Fixtures for enrollment integration tests: a migrated database and its sessionmaker, and the
app served over real HTTP."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.enrollment import bootstrap
from services.enrollment.entrypoints.api.app import create_app
from services.enrollment.settings import Settings
from shared import tansu
from shared.db import make_engine, make_sessionmaker


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
def base_url(db_url: str) -> Iterator[str]:
    """The app served by uvicorn in a thread (relay and consumer off: this is about HTTP)."""
    settings = Settings(enrollment_database_url=db_url, payment_consumer_enabled=False)
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
async def client(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        yield http
