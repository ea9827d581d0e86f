"""A migrated enrollment database on both engines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.enrollment.migrate import upgrade_async
from shared.db import make_engine, make_sessionmaker


@pytest.fixture
async def migrated_url(db_url: str) -> str:
    await upgrade_async(db_url)
    return db_url


@pytest.fixture
async def sessionmaker(migrated_url: str) -> AsyncIterator[async_sessionmaker[Any]]:
    engine = make_engine(migrated_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()
