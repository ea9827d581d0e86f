"""Run a service's Alembic migrations: the one runner both services' ``migrate`` commands use."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config


def alembic_config(script_location: Path, database_url: str) -> Config:
    """An Alembic config for ``script_location`` whose env.py reads the URL from attributes."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["database_url"] = database_url
    return config


def upgrade(script_location: Path, database_url: str, revision: str = "heads") -> None:
    """Bring the database to ``revision``; safe on every start (idempotent).

    ``heads``: should two people add a migration on the same parent, both branches apply.
    """
    command.upgrade(alembic_config(script_location, database_url), revision)


async def upgrade_async(script_location: Path, database_url: str) -> None:
    """The same from inside an event loop (Alembic's env runs its own loop, so use a thread)."""
    await asyncio.to_thread(upgrade, script_location, database_url)
