"""The FastAPI app factory. Add a resource by adding its router to ``ROUTERS``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter, FastAPI

from services.enrollment.adapters.migrate import upgrade_async
from services.enrollment.adapters.relay import OutboxRelay
from services.enrollment.entrypoints import payment_consumer
from services.enrollment.entrypoints.api import collection, errors, health, openapi, persons
from services.enrollment.service_layer.persons import Context, Enrollment, rules_from_directory
from services.enrollment.settings import Settings
from shared.db import make_engine, make_sessionmaker

log = logging.getLogger(__name__)

ROUTERS: list[APIRouter] = [health.router, persons.router, collection.router]
"""Every router of the service, in one place."""


def create_app(settings: Settings | None = None, *, run_relay: bool = True) -> FastAPI:
    """The enrollment HTTP app; its lifespan migrates the database and starts the relay."""
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.ensure_database_dir()
        await upgrade_async(settings.enrollment_database_url)
        engine = make_engine(settings.enrollment_database_url, hide_parameters=True)
        sessionmaker = make_sessionmaker(engine)
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessionmaker = sessionmaker
        app.state.enrollment = Enrollment(
            sessionmaker, Context(rules_for=rules_from_directory(settings.premium_rules_dir))
        )
        app.state.relay = None
        task: asyncio.Task[None] | None = None
        if run_relay:
            relay = OutboxRelay(
                engine,
                sessionmaker,
                settings.kafka_bootstrap_servers,
                batch_size=settings.relay_batch_size,
                poll_interval=settings.relay_poll_interval,
                retry_backoff=settings.relay_retry_backoff,
            )
            app.state.relay = relay
            task = asyncio.create_task(relay.run(), name="outbox-relay")
        if run_relay:  # the tax-feed consumer runs beside the relay (issue #4)
            payment_consumer.start_in_app(app, settings, sessionmaker)
        log.info("enrollment ready (relay %s)", "on" if run_relay else "off")
        try:
            yield
        finally:
            await payment_consumer.stop_in_app(app)
            if task is not None:
                app.state.relay.stop()
                try:
                    await asyncio.wait_for(task, 10)
                except (TimeoutError, asyncio.CancelledError):
                    task.cancel()
            await engine.dispose()

    app = FastAPI(
        title="Enrollment — resident basic medical insurance",
        version="1.0",
        description="Registration, identity, premiums and death of insured residents (SPEC §6).",
        lifespan=lifespan,
    )
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    openapi.install(app)
    return app
