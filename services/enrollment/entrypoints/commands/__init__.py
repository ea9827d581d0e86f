"""The ``enrollment`` console script's commands, a module per concern (``cli.py`` lists them):

* ``service.py`` — ``serve``, ``migrate``, ``relay``: running the service;
* ``lists.py`` — ``import-list``, ``export-basic-data``: school lists and the tax bureau's data;
* ``payments.py`` — ``consume-payments``, ``payments retry``: the tax bureau's payment feed.
* ``staff.py`` — ``staff add|list|rotate-token|disable``: who may call the API (SPEC §8).
* ``recovery.py`` — ``republish``, ``reconcile``: after a lost broker, and the cross-service check.
* ``rollover.py`` — ``rollover --from Y --to Y+1``: next year's registrations before collection.
* ``console.py`` — ``console-sums``: the ops console's sums up to date at once (after an upgrade).

Heavy imports happen inside each command, so ``enrollment --help`` stays quick.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

from shared.logging import configure

if TYPE_CHECKING:
    from services.enrollment.bootstrap import Wiring
    from services.enrollment.settings import Settings

T = TypeVar("T")


def settings_for_command() -> Settings:
    """The environment's settings, with logging configured and a SQLite directory created."""
    from services.enrollment.settings import Settings

    settings = Settings()
    configure("enrollment", settings.log_level)
    settings.ensure_database_dir()
    return settings


def with_database(work: Callable[[Wiring], Awaitable[T]], *, hide_parameters: bool = False) -> T:
    """Migrate, wire the service to its database, run ``work(wiring)``, dispose."""
    from services.enrollment import bootstrap

    settings = settings_for_command()
    bootstrap.migrate(settings.enrollment_database_url)

    async def main() -> T:
        engine_options = {"hide_parameters": True} if hide_parameters else {}
        wiring = bootstrap.connect(settings, **engine_options)
        try:
            return await work(wiring)
        finally:
            await wiring.dispose()

    return asyncio.run(main())


class Runner(Protocol):
    """A long-running worker (the relay, the payment consumer)."""

    async def run(self) -> None: ...

    def stop(self) -> None: ...


async def run_until_signalled(runner: Runner) -> None:
    """``runner.run()`` until SIGINT or SIGTERM asks it to stop (it finishes its current work)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, runner.stop)
    await runner.run()
