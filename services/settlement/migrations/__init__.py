"""Alembic migrations of the settlement database; `settlement migrate` and `serve` apply them.

The runner is ``shared.migrate`` (to ``heads``); this module only knows where the scripts are
and gives a SQLite file its directory first.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy.engine import make_url

from shared import migrate

HERE = Path(__file__).parent


def upgrade(database_url: str) -> None:
    """Bring the database to the newest revisions (blocking; idempotent)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(HERE, database_url, "heads")


async def upgrade_async(database_url: str) -> None:
    """The same from inside an event loop (Alembic's env runs its own loop, so use a thread)."""
    await asyncio.to_thread(upgrade, database_url)
