"""The FastAPI app factory. Add a resource by adding its router to ``ROUTERS``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter, FastAPI

from services.enrollment import bootstrap
from services.enrollment.entrypoints import console, payment_consumer
from services.enrollment.entrypoints.api import (
    assistance,
    audit,
    auth,
    carry_over,
    collection,
    errors,
    health,
    openapi,
    persons,
    reports,
    session,
    subsidies,
)
from services.enrollment.metrics import HTTP_REQUESTS
from services.enrollment.settings import Settings
from shared.logging import RedactIds
from shared.prometheus import CountRequests

log = logging.getLogger(__name__)
REDACT_IDS = RedactIds()  # one instance: a logger keeps a filter once however many apps are made

ROUTERS: list[APIRouter] = [
    health.router,
    persons.router,
    collection.router,
    session.router,
    audit.router,
    carry_over.router,
    assistance.router,
    subsidies.router,
    reports.router,
]
"""Every router of the service, in one place."""


def create_app(settings: Settings | None = None, *, run_relay: bool = True) -> FastAPI:
    """The enrollment HTTP app; its lifespan migrates the database and starts the relay."""
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.ensure_database_dir()
        await bootstrap.migrate_async(settings.enrollment_database_url)
        wiring = bootstrap.connect(settings, hide_parameters=True)
        app.state.settings = settings
        app.state.engine = wiring.engine
        app.state.sessionmaker = wiring.sessionmaker
        app.state.uow = wiring.uow
        app.state.enrollment = wiring.enrollment()
        app.state.relay = wiring.relay() if run_relay else None
        stop_staff_cache = auth.start_staff_cache(app, settings.enrollment_database_url)
        task: asyncio.Task[None] | None = None
        if app.state.relay is not None:
            task = asyncio.create_task(app.state.relay.run(), name="outbox-relay")
        if run_relay:  # the tax-feed consumer runs beside the relay (issue #4)
            enabled = settings.payment_consumer_enabled
            payment_consumer.start_in_app(app, wiring.payment_consumer() if enabled else None)
        log.info("enrollment ready (relay %s)", "on" if run_relay else "off")
        try:
            yield
        finally:
            await stop_staff_cache()
            await payment_consumer.stop_in_app(app)
            if task is not None:
                app.state.relay.stop()
                try:
                    await asyncio.wait_for(task, 10)
                except (TimeoutError, asyncio.CancelledError):
                    task.cancel()
            await wiring.dispose()

    app = FastAPI(
        title="Enrollment — resident basic medical insurance",
        version="1.0",
        description="Registration, identity, premiums and death of insured residents (SPEC §6).",
        lifespan=lifespan,
        # Default deny: a route that declares no access policy answers 403 (SPEC §8).
        dependencies=[auth.default_deny()],
    )
    errors.install(app)
    app.add_middleware(CountRequests, counter=HTTP_REQUESTS)  # every answer (the 5xx alert)
    auth.install(app)  # 401/403/429 of the staff dependencies (SPEC §8)
    for router in ROUTERS:
        app.include_router(router)
    console.install(app)  # /console: the ops console (SPEC §10)
    openapi.install(app)
    auth.document_policies(app)  # x-policy on every operation of the OpenAPI document
    # The access log prints query strings (``?certno=``): ID numbers masked there too.
    logging.getLogger("uvicorn.access").addFilter(REDACT_IDS)
    return app
