"""Console commands of the enrollment service: ``serve``, ``migrate``, ``relay``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import click

from shared.logging import configure

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

    settings = Settings()
    configure("enrollment", settings.log_level)
    app = create_app(settings, run_relay=not no_relay)
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=True)


@click.command()
def migrate() -> None:
    """Apply the database migrations (Alembic) to ENROLLMENT_DATABASE_URL."""
    from services.enrollment.adapters.migrate import upgrade
    from services.enrollment.settings import Settings

    settings = Settings()
    configure("enrollment", settings.log_level)
    settings.ensure_database_dir()
    upgrade(settings.enrollment_database_url)
    log.info("migrations applied")


@click.command()
def relay() -> None:
    """Run the outbox relay alone (when the API runs with --no-relay)."""
    from services.enrollment.adapters.migrate import upgrade
    from services.enrollment.adapters.relay import OutboxRelay
    from services.enrollment.settings import Settings
    from shared.db import make_engine, make_sessionmaker

    settings = Settings()
    configure("enrollment", settings.log_level)
    settings.ensure_database_dir()
    upgrade(settings.enrollment_database_url)

    async def main() -> None:
        engine = make_engine(settings.enrollment_database_url, hide_parameters=True)
        runner = OutboxRelay(
            engine,
            make_sessionmaker(engine),
            settings.kafka_bootstrap_servers,
            batch_size=settings.relay_batch_size,
            poll_interval=settings.relay_poll_interval,
            retry_backoff=settings.relay_retry_backoff,
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, runner.stop)
        try:
            await runner.run()
        finally:
            await engine.dispose()

    asyncio.run(main())
