"""Staff members kept in memory while the registry does not change (SPEC §8).

Every request needs its staff member: by the hash of a staff token, or by name for a signed
access token. Reading the ``staff`` row each time is a database round trip, many times what the
rest of the check costs. ``StaffCache`` keeps the members it has read and forgets them all when
the registry changes, so disabling someone still takes effect at once:

* every change (add, rotate, disable) sends ``NOTIFY staff_changed`` in its own transaction
  (``notify_changed``), delivered at commit to every process that listens;
* ``listen`` holds a PostgreSQL connection of its own on that channel and empties the cache on
  each notification, milliseconds after the commit.

The cache answers only while its listener is connected: before, after a lost connection and on
SQLite (which has no notifications) every request reads the row. A read that races a change
cannot leave a stale member behind: what was read is kept only if no notification arrived since
the read began (``generation``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrollment.adapters.staff_store import StaffMember

log = logging.getLogger(__name__)

CHANNEL = "staff_changed"
MAX_MEMBERS = 10_000


class StaffCache:
    """Members by key (``("token", hash)`` or ``("name", name)``), valid until ``forget``."""

    def __init__(self) -> None:
        self.live = False
        self.generation = 0
        self._members: dict[tuple[str, str], StaffMember] = {}

    def get(self, key: tuple[str, str]) -> StaffMember | None:
        return self._members.get(key) if self.live else None

    def put(self, key: tuple[str, str], member: StaffMember, generation: int) -> None:
        """Keep ``member``, read when the cache was at ``generation``, if nothing changed since."""
        if self.live and generation == self.generation and len(self._members) < MAX_MEMBERS:
            self._members[key] = member

    def forget(self, *_: Any) -> None:
        """The registry changed (or may have): drop every member."""
        self.generation += 1
        self._members.clear()


async def notify_changed(session: AsyncSession) -> None:
    """Tell every listening process, at commit, that the staff registry changed."""
    # NOTIFY is PostgreSQL's; SQLite runs no listener, so it has no cache to empty.
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text(f"NOTIFY {CHANNEL}"))


async def listen(
    cache: StaffCache, database_url: str, stop: asyncio.Event, *, retry: float = 1.0
) -> None:
    """Empty ``cache`` on every notification until ``stop`` is set (PostgreSQL only)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    while not stop.is_set():
        try:
            connection = await asyncpg.connect(dsn)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("staff cache listener cannot connect (%s); retrying", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), retry)
            continue
        try:
            await _listen_on(connection, cache, stop)
        finally:
            cache.live = False
            cache.forget()
            with contextlib.suppress(Exception):
                await connection.close(timeout=5)


async def _listen_on(connection: Any, cache: StaffCache, stop: asyncio.Event) -> None:
    """Feed the cache from one connection until ``stop`` is set or the connection is lost."""
    lost = asyncio.Event()
    await connection.add_listener(CHANNEL, cache.forget)
    connection.add_termination_listener(lambda _: lost.set())
    cache.forget()
    cache.live = True
    waits = [asyncio.create_task(stop.wait()), asyncio.create_task(lost.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
