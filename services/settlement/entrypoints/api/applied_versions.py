"""``GET /api/v1/ops/applied-versions``: what the coverage projection applied, per person (staff).

Enrollment's ``reconcile`` compares these with the versions it wrote (issue 9). Paged by key:
``after`` (exclusive) and ``through`` (inclusive) bound the psn_nos, ``next_after`` is the key to
ask from next, or null on the range's last page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from services.settlement.adapters import applied_versions
from services.settlement.entrypoints.api.staff_auth import OpsAction, require_staff
from shared.http_errors import ErrorPublic
from shared.staff_tokens import StaffClaims
from shared.text import PRINTABLE

router = APIRouter(prefix="/ops", tags=["operations"])

MAX_PAGE = 10_000


class AppliedVersion(BaseModel):
    """A person settlement knows and the last stream version it applied for them."""

    psn_no: str
    version: int


class AppliedVersionsPage(BaseModel):
    """One page, in psn_no order."""

    items: list[AppliedVersion]
    next_after: str | None


REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorPublic, "description": "No valid staff access token."},
    403: {"model": ErrorPublic, "description": "The role may not read settlement's figures."},
    422: {"model": ErrorPublic, "description": "A query parameter is not valid."},
}


@router.get("/applied-versions", response_model=AppliedVersionsPage, responses=REFUSALS)
async def list_applied_versions(
    request: Request,
    _staff: Annotated[StaffClaims, Depends(require_staff(OpsAction.READ))],
    after: Annotated[str, Query(max_length=64, pattern=PRINTABLE)] = "",
    through: Annotated[str | None, Query(max_length=64, pattern=PRINTABLE)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1000,
) -> AppliedVersionsPage:
    """The persons with ``after < psn_no <= through`` and their last applied stream version."""
    async with request.app.state.engine.connect() as conn:
        rows = await applied_versions.page(conn, after=after, through=through, limit=limit)
    return AppliedVersionsPage(
        items=[AppliedVersion(psn_no=psn_no, version=version) for psn_no, version in rows],
        next_after=rows[-1][0] if len(rows) == limit else None,
    )
