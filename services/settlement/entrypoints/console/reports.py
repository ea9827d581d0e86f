"""The settlement console's reports: hospital statements (with downloads) and the what-if.

The statements page lists every hospital's month from the daily summary (fast) and offers the
statement files, which ``service_layer.statements`` makes, the figures NHSA 3201 answers; a test
holds the two to the fen. The download and the what-if report are the staff API's own answers,
asked with the session's token, so the browser needs no ``Authorization`` header.
"""

from __future__ import annotations

from typing import Annotated, cast

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from services.settlement.adapters import console_figures as figures
from services.settlement.entrypoints.api.ops_statements import FORMATS, Format, statement_file
from services.settlement.entrypoints.api.staff_auth import OpsAction
from services.settlement.entrypoints.console.auth import viewer_for
from services.settlement.entrypoints.console.pages import HOSPITAL_COLUMNS
from services.settlement.entrypoints.console.site import (
    WHAT_IF_ROUTE,
    fresh_summary,
    has_route,
    page,
)
from services.settlement.errors import NotFound
from services.settlement.service_layer.hospital_statements import month_statements
from shared.china_time import china_today
from shared.console.params import (
    Note,
    next_month,
    page_of,
    read_choice,
    read_month,
    read_table,
    read_year,
)
from shared.console.web import Console, Viewer, language

router = APIRouter(include_in_schema=False)
Reader = Annotated[Viewer, Depends(viewer_for(OpsAction.READ))]

STATEMENT_COLUMNS = tuple(c for c in HOSPITAL_COLUMNS if c.key not in ("level", "psn_part_amt"))


@router.get("/console/statements")
async def statements(request: Request, viewer: Reader) -> HTMLResponse:
    """Each hospital's month, with its statement files."""
    notes = await fresh_summary(request)
    first, more = read_month(request.query_params.get("month"), china_today())
    table, more2 = read_table(dict(request.query_params), STATEMENT_COLUMNS, default_sort="code")
    rows = [
        h.row()
        for h in await figures.per_hospital(request.app.state.engine, first, next_month(first))
    ]
    shown, more3 = page_of(rows, table)
    return page(
        request,
        "statements",
        viewer,
        [*notes, *more, *more2, *more3],
        month=first,
        table=shown,
        columns=STATEMENT_COLUMNS,
        formats=FORMATS,
    )


@router.get("/console/statements/download")
async def download(request: Request, viewer: Reader) -> Response:
    """A statement file: the month (and hospital) asked for, in JSON, CSV or XLSX."""
    first, notes = read_month(request.query_params.get("month"), china_today())
    format, more = read_choice(request.query_params.get("format"), FORMATS, "csv", "format")
    hospital = request.query_params.get("hospital") or None
    if notes or more:  # a download of another month than asked would mislead: say so instead
        return page(
            request,
            "statements",
            viewer,
            [*notes, *more],
            month=first,
            table=None,
            columns=STATEMENT_COLUMNS,
            formats=FORMATS,
        )
    try:
        found = await month_statements(request.app.state.engine, first, hospital)
    except NotFound:
        return Response(f"no hospital {hospital}", status_code=404, media_type="text/plain")
    response = statement_file(found, hospital, cast(Format, format), language(request))
    Console.secure(response)
    return response


@router.get("/console/what-if")
async def what_if(request: Request, viewer: Reader) -> Response:
    """The what-if report's form, and the report when a year and a policy are given."""
    if not has_route(request, WHAT_IF_ROUTE):
        return Response("no what-if on this service", status_code=404, media_type="text/plain")
    year, notes = read_year(request.query_params.get("year"), china_today().year - 1)
    policy = (request.query_params.get("policy") or "").strip()
    if not policy or notes:
        return page(request, "what_if", viewer, notes, year=year, policy=policy)
    return await _report(request, viewer, year, policy)


async def _report(request: Request, viewer: Viewer, year: int, policy: str) -> Response:
    """The staff route's own answer (HTML report), asked in-process with the session's token;
    a refusal (an unknown draft, a year without claims) is shown on the form's page."""
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
        answer = await client.get(
            WHAT_IF_ROUTE,
            params={"year": year, "policy": policy, "format": "html"},
            headers={"Authorization": f"Bearer {viewer.token}"},
            timeout=120,
        )
    if answer.status_code != 200:
        refusal = _refusal(answer)
        return page(
            request,
            "what_if",
            viewer,
            [Note("note.what_if_refused", refusal)],
            year=year,
            policy=policy,
        )
    response = Response(answer.content, media_type=answer.headers.get("content-type"))
    Console.secure(response)
    # The report is self-contained: its own inline styles, charts as inline SVG, no script.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
    )
    return response


def _refusal(answer: httpx.Response) -> dict[str, str]:
    try:
        body = answer.json()
        return {"code": str(body["code"]), "message": str(body["message"])}
    except (ValueError, KeyError, TypeError):
        return {"code": str(answer.status_code), "message": answer.text[:200]}
