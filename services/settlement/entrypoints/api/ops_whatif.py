"""``GET /api/v1/ops/what-if``: the what-if report for staff (SPEC §10).

``year``, ``policy`` (the draft: a registered or shipped policy's name, or the name of a TOML file
in ``SETTLEMENT_POLICY_DRAFTS`` — never a path), ``region`` (a region-code prefix; the draft's
own regions by default) and ``format=json|xlsx|html``. The same report as ``settlement what-if``.
A draft that is no valid policy, an unknown draft and a year with no claims are 422 refusals
naming the problem (``INVALID_POLICY``, ``POLICY_NOT_FOUND``, ``NO_CLAIMS``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from services.settlement.adapters import what_if_files
from services.settlement.entrypoints.api.staff_auth import OpsAction, require_staff
from services.settlement.service_layer.what_if import load_draft, regions_of, what_if
from shared.staff_tokens import StaffClaims

router = APIRouter(prefix="/ops", tags=["operations"])


class Format(StrEnum):
    JSON = "json"
    XLSX = "xlsx"
    HTML = "html"


MEDIA = {
    Format.JSON: "application/json",
    Format.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    Format.HTML: "text/html; charset=utf-8",
}


@router.get(
    "/what-if",
    summary="Re-adjudicate a year's claims under the policy in force and a draft, side by side",
    responses={
        200: {"content": {media: {} for media in MEDIA.values()}},
        401: {"description": "No valid staff access token."},
        403: {"description": "The role may not read settlement's figures."},
        422: {"description": "INVALID_POLICY, POLICY_NOT_FOUND, NO_CLAIMS, INVALID_REQUEST."},
    },
)
async def what_if_report(
    request: Request,
    _staff: Annotated[StaffClaims, Depends(require_staff(OpsAction.READ))],
    year: Annotated[int, Query(ge=1990, le=2100, description="The insurance year")],
    policy: Annotated[str, Query(max_length=64, description="The draft policy's name")],
    region: Annotated[str | None, Query(max_length=6, description="A region prefix")] = None,
    format: Format = Format.JSON,
) -> Response:
    """The report as JSON, an XLSX workbook or a self-contained HTML page."""
    settings = request.app.state.settings
    policies = request.app.state.service.policies
    draft = load_draft(policy, policies, drafts_dir=settings.policy_drafts)
    document = await what_if(
        settings.database_url, policies, draft, year, regions_of(region, draft)
    )
    if format is Format.JSON:
        return JSONResponse(document)
    body = what_if_files.xlsx(document) if format is Format.XLSX else what_if_files.html(document)
    name = f"what-if-{year}-{draft.name}.{format.value}"
    disposition = "attachment" if format is Format.XLSX else "inline"
    return Response(
        body,
        media_type=MEDIA[format],
        headers={"Content-Disposition": f'{disposition}; filename="{name}"'},
    )
