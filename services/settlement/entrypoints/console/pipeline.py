"""The settlement console's pipeline page: consumer lag, gaps waiting, dead letters, outbox."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from services.settlement.adapters import console_figures as figures
from services.settlement.entrypoints.api.staff_auth import OpsAction
from services.settlement.entrypoints.console.auth import viewer_for
from services.settlement.entrypoints.console.site import page
from shared.console.params import Column, clamp, read_table
from shared.console.web import Viewer
from shared.kafka_lag import GroupLag, group_lag

router = APIRouter(include_in_schema=False)
Reader = Annotated[Viewer, Depends(viewer_for(OpsAction.READ))]

LAG_CACHE_SECONDS = 10.0
DEAD_LETTER_COLUMNS = (
    Column("id", "col.id", figure=True),
    Column("received_at", "col.received_at"),
    Column("partition", "col.partition", figure=True),
    Column("offset", "col.offset", figure=True),
    Column("key", "col.key"),
    Column("error", "col.error"),
)


async def consumer_lag(request: Request) -> GroupLag:
    """The settlement group's lag on enrollment.events, asked of the broker every 10 s at most."""
    state = request.app.state
    cached = getattr(state, "console_lag", None)
    if cached is not None and time.monotonic() - cached[0] < LAG_CACHE_SECONDS:
        return cached[1]  # type: ignore[no-any-return]
    settings = state.settings
    lag = await group_lag(
        settings.kafka_bootstrap_servers, settings.events_topic, settings.consumer_group
    )
    state.console_lag = (time.monotonic(), lag)
    return lag


@router.get("/console/pipeline")
async def pipeline(request: Request, viewer: Reader) -> HTMLResponse:
    """Is enrollment.events flowing into the coverage projection?"""
    table, notes = read_table(
        dict(request.query_params), DEAD_LETTER_COLUMNS, default_sort="id", descending=True
    )
    engine = request.app.state.engine
    state = await figures.pipeline(engine)
    shown, more = clamp([], state.dead_letters, table)
    table = shown.request
    rows = await figures.dead_letter_page(
        engine, table.sort, table.descending, table.offset, table.size
    )
    shown, _ = clamp(rows, state.dead_letters, table)
    return page(
        request,
        "pipeline",
        viewer,
        [*notes, *more],
        lag=await consumer_lag(request),
        state=state,
        table=shown,
        columns=DEAD_LETTER_COLUMNS,
    )
