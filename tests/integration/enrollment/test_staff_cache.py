"""The staff cache: a member is read once while the registry is unchanged, and every change
(here a disable, run as another process would: its own engine) empties every listening cache
within milliseconds — on PostgreSQL. On SQLite there is no listener and no caching."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.enrollment import bootstrap
from services.enrollment.adapters.staff_cache import StaffCache, listen
from services.enrollment.domain.staff import Actor, new_staff
from services.enrollment.service_layer import staff as staff_service
from shared.db import make_engine, make_sessionmaker
from shared.staff_tokens import Unauthenticated

pytestmark = pytest.mark.integration

OPERATOR = Actor("cli:ops", "system")


class Counting:
    """A sessionmaker that counts the sessions opened (one per registry read)."""

    def __init__(self, sessionmaker: Any) -> None:
        self.sessionmaker, self.opened = sessionmaker, 0

    def __call__(self) -> Any:
        self.opened += 1
        return self.sessionmaker()


@pytest.fixture
async def registry(db_url) -> AsyncIterator[tuple[Counting, Any, StaffCache, asyncio.Event]]:
    await bootstrap.migrate_async(db_url)
    engine, other = make_engine(db_url), make_engine(db_url)  # the app's, a console's
    cache, stop = StaffCache(), asyncio.Event()
    listener = asyncio.create_task(listen(cache, db_url, stop))
    try:
        yield Counting(make_sessionmaker(engine)), make_sessionmaker(other), cache, stop
    finally:
        stop.set()
        await asyncio.wait_for(listener, 10)
        await engine.dispose()
        await other.dispose()


async def until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.005)


async def test_read_once_then_emptied_by_a_change_in_another_process(registry, db_url):
    app, console, cache, _ = registry
    token = await staff_service.add_staff(
        console, new_staff("wang", "town", organization="Z"), actor=OPERATOR
    )
    postgres = db_url.startswith("postgresql")
    if postgres:
        await until(lambda: cache.live)
    for _ in range(3):
        assert (await staff_service.authenticate(app, token, None, cache=cache)).name == "wang"
    assert app.opened == (1 if postgres else 3)
    before = cache.generation
    await staff_service.disable_staff(console, "wang", actor=OPERATOR)
    if postgres:
        started = time.monotonic()
        await until(lambda: cache.generation > before)
        assert time.monotonic() - started < 1.0  # the notification, not a timeout
    with pytest.raises(Unauthenticated, match="disabled"):
        await staff_service.authenticate(app, token, None, cache=cache)


async def test_an_unknown_token_is_never_cached(registry):
    app, _, cache, _ = registry
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            await staff_service.authenticate(app, "not-a-token", None, cache=cache)
    assert app.opened == 2


def test_a_member_read_before_a_change_is_not_kept():
    cache = StaffCache()
    cache.live = True
    generation = cache.generation
    cache.forget()  # a notification arrives while the read is under way
    cache.put(("token", "h"), object(), generation)  # type: ignore[arg-type]
    assert cache.get(("token", "h")) is None
    cache.put(("token", "h"), "member", cache.generation)  # type: ignore[arg-type]
    assert cache.get(("token", "h")) == "member"
    cache.live = False  # the listener lost its connection: nothing is answered from memory
    assert cache.get(("token", "h")) is None
