"""``/healthz`` (database reachable, relay state) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

import contextlib

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from services.enrollment.adapters.relay import relay_status
from services.enrollment.entrypoints.api.deps import SessionmakerDep
from services.enrollment.service_layer.reconcile import export_last_run

router = APIRouter(tags=["operations"])

HEALTH = {"type": "object", "required": ["status", "database"]}
"""``{"status", "database", "relay"}``: a state report, also when it is 503 (not a refusal)."""


@router.get(
    "/healthz",
    summary="Liveness: database reachable, relay state",
    responses={
        200: {"content": {"application/json": {"schema": HEALTH}}},
        503: {
            "description": "The database does not answer.",
            "content": {"application/json": {"schema": HEALTH}},
        },
    },
)
async def healthz(request: Request, sessionmaker: SessionmakerDep) -> JSONResponse:
    try:
        async with sessionmaker() as session:
            await session.execute(text("SELECT 1"))
        relay = await relay_status(sessionmaker)
    except Exception as exc:
        return JSONResponse(
            status_code=503, content={"status": "unavailable", "database": str(exc)[:200]}
        )
    runner = getattr(request.app.state, "relay", None)
    relay["running"] = runner is not None
    relay["connected"] = bool(runner and runner.connected)
    relay["last_error"] = runner.last_error if runner else None
    return JSONResponse({"status": "ok", "database": "ok", "relay": relay})


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
async def metrics(sessionmaker: SessionmakerDep) -> Response:
    # The reconciliation runs as a command: its last pass is read from the database here.
    with contextlib.suppress(Exception):
        await export_last_run(sessionmaker.kw["bind"])
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
