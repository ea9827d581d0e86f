"""The settlement HTTP application: HIS API under /api/v1, /healthz, /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from services.settlement.bootstrap import bootstrap
from services.settlement.entrypoints import console, fhir, nhsa
from services.settlement.entrypoints.api import (
    applied_versions,
    errors,
    openapi,
    routes,
    staff_auth,
)
from services.settlement.entrypoints.api.fast import PATH as SETTLE_PATH
from services.settlement.entrypoints.api.fast import SettleFastPath
from services.settlement.entrypoints.api.ops_statements import router as statements_router
from services.settlement.entrypoints.api.ops_whatif import router as what_if_router
from services.settlement.metrics import HTTP_REQUESTS
from services.settlement.settings import Settings
from shared.db import is_sqlite
from shared.prometheus import CountRequests, exposition

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, run_consumer: bool = False) -> FastAPI:
    """The app factory; with ``run_consumer`` it also folds enrollment.events in the background
    (and publishes the dead letters). ``uvicorn --factory`` calls it once per worker."""
    settings = settings or Settings()
    lifespan = _lifespan(settings, run_consumer=run_consumer)
    # Default deny: a route that declares no access policy answers 403 (SPEC §8).
    app = FastAPI(
        title="Settlement", version="1", lifespan=lifespan, dependencies=[staff_auth.default_deny()]
    )
    app.state.settings = settings  # staff_auth reads the staff-token key file from it
    errors.install(app)
    staff_auth.install(app)  # 401/403 of the staff routes (SPEC §8)
    app.add_middleware(SettleFastPath)  # the settle call, ahead of the router
    # Every answer counted (the 5xx alert), the fast path's too: outermost, added last.
    app.add_middleware(CountRequests, counter=HTTP_REQUESTS, extra=(SETTLE_PATH, nhsa.PATH))
    app.include_router(routes.coverage, prefix="/api/v1")
    app.include_router(routes.settlements, prefix="/api/v1")
    nhsa.install(app)  # POST /api/nhsa/v1, the national platform's envelope (SPEC §9)
    app.include_router(what_if_router, prefix="/api/v1")  # staff: what-if reports (SPEC §10)
    fhir.install(app)  # FHIR R4 at /fhir/R4 (SPEC §9)
    app.include_router(statements_router, prefix="/api/v1")  # staff: hospital statements
    console.install(app)  # /console: the ops console (SPEC §10)
    app.include_router(applied_versions.router, prefix="/api/v1")  # staff: the reconciliation
    _install_probes(app)
    staff_auth.document_policies(app)  # x-policy on every operation of the OpenAPI document
    openapi.install(app)  # the claim's schema, every refusal of every operation
    return app


def _lifespan(
    settings: Settings, *, run_consumer: bool
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """The app's lifespan: the database (and the consumer, if asked) opened, then closed."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # No pre-ping: it costs a round trip per checkout; a dead connection fails one call.
        options: dict[str, Any] = {"pool_pre_ping": False}
        if not is_sqlite(settings.database_url):
            # Connections kept for up to 32 calls at once: beyond the pool's size an overflow
            # connection is opened and closed per call, a new PostgreSQL backend each time (32
            # HIS clients ran a third slower than 8 on the default 20).
            options.update(pool_size=32, max_overflow=8)
        settlement = bootstrap(settings, **options)
        app.state.engine = settlement.engine
        app.state.service = settlement.service
        stop = asyncio.Event()
        task = None
        if run_consumer and settings.kafka_bootstrap_servers:
            task = asyncio.create_task(settlement.consume(stop))
            task.add_done_callback(_log_end)
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, 10)
            await settlement.aclose()

    return lifespan


def _install_probes(app: FastAPI) -> None:
    """/healthz (the database answers) and /metrics, outside the OpenAPI document."""

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        async with app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(exposition(), media_type=CONTENT_TYPE_LATEST)


def _log_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the enrollment.events consumer stopped", exc_info=task.exception())
