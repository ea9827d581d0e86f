"""Running the service: ``serve`` (HTTP API with the relay), ``migrate``, ``relay``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import click

from services.enrollment.entrypoints.commands import (
    run_until_signalled,
    settings_for_command,
    with_database,
)

if TYPE_CHECKING:
    from services.enrollment.bootstrap import Wiring

log = logging.getLogger(__name__)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=int)
@click.option("--no-relay", is_flag=True, help="Do not run the outbox relay in this process.")
def serve(host: str, port: int, no_relay: bool) -> None:
    """Run the HTTP API (migrations applied at start) with the outbox relay."""
    import uvicorn

    from services.enrollment.entrypoints.api.app import create_app
    from services.enrollment.settings import Settings
    from shared.logging import configure

    settings = Settings()
    configure("enrollment", settings.log_level)
    app = create_app(settings, run_relay=not no_relay)
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=True)


@click.command()
def migrate() -> None:
    """Apply the database migrations (Alembic) to ENROLLMENT_DATABASE_URL."""
    from services.enrollment import bootstrap

    settings = settings_for_command()
    bootstrap.migrate(settings.enrollment_database_url)
    log.info("migrations applied")


@click.command()
def relay() -> None:
    """Run the outbox relay alone (when the API runs with --no-relay)."""

    async def work(wiring: Wiring) -> None:
        await run_until_signalled(wiring.relay())

    with_database(work, hide_parameters=True)
