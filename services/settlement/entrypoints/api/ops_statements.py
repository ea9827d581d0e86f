"""``GET /api/v1/ops/statements``: hospital statements of a month for staff (SPEC §10).

``month=YYYY-MM`` (China-time days), ``hospital=CODE`` for one hospital (every registered one
otherwise), ``format=json|csv|xlsx``. The figures are ``service_layer.statements``', the ones NHSA
3201 answers for the same period.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.settlement.entrypoints import statement_files
from services.settlement.entrypoints.api.staff_auth import OpsAction, require_staff
from services.settlement.errors import InvalidRequest
from services.settlement.service_layer.hospital_statements import MonthStatements, month_statements
from shared.console.labels import translate
from shared.staff_tokens import StaffClaims

router = APIRouter(prefix="/ops", tags=["operations"])


Format = Literal["json", "csv", "xlsx"]
FORMATS: tuple[Format, ...] = ("json", "csv", "xlsx")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WRITERS: dict[str, tuple[str, str]] = {  # format → (media type, disposition)
    "json": ("application/json", "inline"),
    "csv": ("text/csv; charset=utf-8", "attachment"),
    "xlsx": (XLSX, "attachment"),
}


def parse_month(raw: str) -> date:
    """``YYYY-MM`` → the month's first day; ``INVALID_MONTH`` otherwise."""
    match = re.fullmatch(r"([0-9]{4})-([0-9]{2})", raw)
    if not match or not 1 <= int(match[2]) <= 12 or not 2000 <= int(match[1]) <= 2100:
        raise InvalidRequest("INVALID_MONTH", f"month must be YYYY-MM, not {raw[:20]!r}")
    return date(int(match[1]), int(match[2]), 1)


def statement_file(
    month: MonthStatements, hospital: str | None, format: Format, lang: str = "en"
) -> Response:
    """The statements in ``format``, as a download (JSON inline)."""
    if format == "json":
        body = statement_files.as_json(month)
    elif format == "csv":
        body = statement_files.as_csv(month)
    else:
        body = statement_files.as_xlsx(month, lambda key: translate(lang, key))
    media, disposition = WRITERS[format]
    name = statement_files.filename(month, hospital, format)
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'{disposition}; filename="{name}"'},
    )


@router.get(
    "/statements",
    summary="Hospital statements of a month (JSON, CSV for Excel, XLSX)",
    responses={
        200: {"content": {media: {} for media, _ in WRITERS.values()}},
        401: {"description": "No valid staff access token."},
        403: {"description": "The role may not read settlement's figures."},
        404: {"description": "UNKNOWN_HOSPITAL: no hospital with that code."},
        422: {"description": "INVALID_MONTH, or a format other than json, csv or xlsx."},
    },
)
async def hospital_statements(
    request: Request,
    _staff: Annotated[StaffClaims, Depends(require_staff(OpsAction.READ))],
    month: Annotated[str, Query(max_length=20, description="YYYY-MM (China-time days).")],
    hospital: Annotated[
        str | None, Query(max_length=64, description="One hospital's code.")
    ] = None,
    format: Annotated[Format, Query(description="json, csv or xlsx.")] = "json",
    lang: Annotated[str, Query(pattern="^(en|zh)$", description="XLSX headers.")] = "en",
) -> Any:
    """Per hospital the month's settlements, reversals, totals per fund and per med_type."""
    first = parse_month(month)
    found = await month_statements(request.app.state.engine, first, hospital or None)
    return statement_file(found, hospital, format, lang)
