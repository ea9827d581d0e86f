"""The enrollment console's pipes: unmatched tax payments (with the retry button) and the relay.

The unmatched list is the same as ``GET /api/v1/payments/unmatched`` shows the viewer: the
whole list for city-wide roles (paged and sorted in the query), a district's region otherwise
(paged and sorted on the server from the rows it may see); ID numbers masked, the read audited.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.enrollment.adapters import console_figures as figures
from services.enrollment.adapters.relay import relay_status
from services.enrollment.domain.access import Caller
from services.enrollment.domain.staff import Action
from services.enrollment.entrypoints.console.auth import viewer_for
from services.enrollment.entrypoints.console.site import CONSOLE, allowed, page
from services.enrollment.entrypoints.payment_consumer import GROUP_ID
from services.enrollment.service_layer.audit import record_read
from services.enrollment.service_layer.payment_retry import retry_for
from services.enrollment.service_layer.unmatched import SCOPED_WINDOW, unmatched_rows
from shared.certno import redact
from shared.console import svg
from shared.console.labels import translate
from shared.console.params import Column, Note, clamp, page_of, read_choice, read_table
from shared.console.web import Viewer, language
from shared.events import TOPIC_TAX_PAYMENTS
from shared.kafka_lag import GroupLag, group_lag

router = APIRouter(include_in_schema=False)
Unmatched = Annotated[Viewer, Depends(viewer_for(Action.READ_UNMATCHED))]
Retrier = Annotated[Viewer, Depends(viewer_for(Action.RETRY_PAYMENTS))]
Reports = Annotated[Viewer, Depends(viewer_for(Action.READ_REPORTS))]

STATUSES = ("open", "resolved", "all")
RESOLVED = {"open": False, "resolved": True, "all": None}
COLUMNS = (
    Column("id", "col.id", figure=True),
    Column("received_at", "col.received_at"),
    Column("reason", "col.reason"),
    Column("tax_serial", "col.tax_serial"),
    Column("message", "col.message"),
    Column("resolved_at", "col.resolved_at"),
)
LAG_CACHE_SECONDS = 10.0


def _row(row: Any) -> dict[str, Any]:
    values = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
    values["message"] = redact(str(values.get("message", "")))
    return values


async def _rows(
    request: Request, caller: Caller, resolved: bool | None, query: Any
) -> tuple[Any, list[Note]]:
    """The page asked for: from the database for city-wide roles, from the visible rows else."""
    sessionmaker = request.app.state.sessionmaker
    if not caller.scope.everything:
        rows = await unmatched_rows(request.app.state.uow, caller, resolved, SCOPED_WINDOW)
        return page_of([_row(r) for r in rows], query)
    async with sessionmaker() as session:
        total = sum((await figures.unmatched_reasons(session, resolved)).values())
        shown, notes = clamp([], total, query)
        query = shown.request
        rows = await figures.unmatched_page(
            session, resolved, query.sort, query.descending, query.offset, query.size
        )
    detail = {"resolved": resolved, "console": True}
    await record_read(
        request.app.state.uow, caller, Action.READ_UNMATCHED, records=len(rows), detail=detail
    )
    shown, _ = clamp([_row(r) for r in rows], total, query)
    return shown, notes


@router.get("/console/unmatched")
async def unmatched(request: Request, viewer: Unmatched) -> HTMLResponse:
    """Tax messages that could not be applied, with their reasons; the retry button."""
    status, notes = read_choice(request.query_params.get("status"), STATUSES, "open", "status")
    query, more = read_table(dict(request.query_params), COLUMNS, default_sort="id")
    caller = Caller.of(request.state.staff)
    shown, more2 = await _rows(request, caller, RESOLVED[status], query)
    lang = language(request)
    reasons: dict[str, int] = {}
    if caller.scope.everything:
        async with request.app.state.sessionmaker() as session:
            reasons = await figures.unmatched_reasons(session, RESOLVED[status])
    chart = svg.bar_list(
        sorted(reasons.items(), key=lambda item: item[1], reverse=True),
        title=translate(lang, "chart.unmatched_reasons"),
        empty=translate(lang, "chart.empty"),
    )
    done = {k: request.query_params.get(k, "") for k in ("applied", "duplicates", "unmatched")}
    if request.query_params.get("retried") and all(v.isdigit() for v in done.values()):
        notes.append(Note("note.retried", done))
    return page(
        request,
        "unmatched",
        viewer,
        [*notes, *more, *more2],
        chosen=status,
        statuses=STATUSES,
        chart=chart if caller.scope.everything else None,
        table=shown,
        columns=COLUMNS,
        may_retry=allowed(viewer, Action.RETRY_PAYMENTS),
    )


@router.post("/console/unmatched/retry")
async def retry(request: Request, viewer: Retrier) -> Response:
    """Replay the open unmatched messages (a form of this site only: CSRF)."""
    form = await request.form()
    if not viewer.form_ok(form.get("csrf")):
        return Response("the form expired: go back and try again", status_code=403)
    outcome = await retry_for(request.app.state.uow, Caller.of(request.state.staff))
    target = (
        f"/console/unmatched?retried=1&applied={outcome.applied}"
        f"&duplicates={outcome.duplicates}&unmatched={outcome.unmatched}"
    )
    response = RedirectResponse(target, status_code=303)
    CONSOLE.secure(response)
    return response


async def payment_lag(request: Request) -> GroupLag:
    """The tax feed consumer's lag, asked of the broker every 10 s at most."""
    state = request.app.state
    cached = getattr(state, "console_lag", None)
    if cached is not None and time.monotonic() - cached[0] < LAG_CACHE_SECONDS:
        return cached[1]  # type: ignore[no-any-return]
    settings = state.settings
    lag = await group_lag(settings.kafka_bootstrap_servers, TOPIC_TAX_PAYMENTS, GROUP_ID)
    state.console_lag = (time.monotonic(), lag)
    return lag


@router.get("/console/relay")
async def relay(request: Request, viewer: Reports) -> HTMLResponse:
    """The outbox relay (events on their way to settlement) and the tax feed's lag."""
    status = await relay_status(request.app.state.sessionmaker)
    async with request.app.state.sessionmaker() as session:
        topics = await figures.outbox_topics(session)
    runner = getattr(request.app.state, "relay", None)
    return page(
        request,
        "relay",
        viewer,
        [],
        relay=status,
        topics=topics,
        running=runner is not None,
        connected=bool(runner and runner.connected),
        last_error=runner.last_error if runner else None,
        lag=await payment_lag(request),
    )
