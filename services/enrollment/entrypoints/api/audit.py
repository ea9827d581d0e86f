"""``GET /api/v1/audit``: who did what, when (admin and auditor only)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from services.enrollment.adapters.audit_log import AuditLog, AuditQuery
from services.enrollment.domain.staff import Action, Staff
from services.enrollment.entrypoints.api.auth import require
from services.enrollment.entrypoints.api.deps import SessionmakerDep
from services.enrollment.entrypoints.api.schemas import ErrorPublic
from shared.text import PRINTABLE

router = APIRouter(prefix="/api/v1", tags=["staff"])

MAX_ID = 2**63 - 1  # the log's BIGINT ids

INSTANT = "A date (YYYY-MM-DD: the whole day) or an ISO 8601 instant (UTC when no offset)."


class AuditEntryPublic(BaseModel):
    id: int = Field(description="Increasing; pass the last one as after_id for the next page.")
    at: datetime = Field(description="When it was done (UTC).")
    actor: str = Field(description="The staff name (or cli:USER / a feed for system actors).")
    role: str = Field(description="The actor's role, or system.")
    action: str = Field(description="What was done, e.g. staff.add, session.created.")
    psn_no: str | None = Field(description="The person concerned, if one.")
    records: int = Field(description="Rows handed out by a bulk export (0 otherwise).")
    detail: dict[str, Any] | None = Field(description="More about it, per action (JSON).")


def _bound(raw: str | None, name: str, *, end: bool) -> datetime | None:
    """A query bound as an instant; a date means its whole day (so ``to`` is inclusive)."""
    if raw is None:
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            if end and day == date.max:
                return None  # through the calendar's last day: no bound at all
            return datetime.combine(day + timedelta(days=1 if end else 0), time(), UTC)
        instant = datetime.fromisoformat(raw)
        # In UTC, as the log keeps it (year 1 at +14:00 is before the calendar: refused).
        return (instant if instant.tzinfo else instant.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        raise RequestValidationError(
            [{"loc": ("query", name), "msg": "not a date or an ISO 8601 instant"}]
        ) from None


@router.get(
    "/audit",
    response_model=list[AuditEntryPublic],
    responses={
        401: {"model": ErrorPublic, "description": "No or an unknown token."},
        403: {"model": ErrorPublic, "description": "Only admin and auditor read the log."},
    },
    summary="The audit log: who did what, oldest first",
)
async def read_audit(
    sessionmaker: SessionmakerDep,
    _staff: Annotated[Staff, Depends(require(Action.READ_AUDIT))],
    from_: Annotated[str | None, Query(alias="from", description=INSTANT, max_length=40)] = None,
    to: Annotated[str | None, Query(description=INSTANT, max_length=40)] = None,
    actor: Annotated[str | None, Query(max_length=64, pattern=PRINTABLE)] = None,
    psn_no: Annotated[str | None, Query(max_length=32, pattern=PRINTABLE)] = None,
    after_id: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Any:
    query = AuditQuery(
        start=_bound(from_, "from", end=False),
        end=_bound(to, "to", end=True),
        actor=actor,
        psn_no=psn_no,
        after_id=after_id,
        limit=limit,
    )
    async with sessionmaker() as session:
        entries = await AuditLog(session).entries(query)
    return [
        AuditEntryPublic(
            id=e.id,
            at=e.at,
            actor=e.actor.name,
            role=e.actor.role,
            action=e.action,
            psn_no=e.psn_no,
            records=e.records,
            detail=e.detail,
        )
        for e in entries
    ]
