"""``/api/v1/medical-assistance/{YYYY-MM}``: civil affairs' monthly list of medical-assistance
recipients (SPEC §7, 004 §二(一)4). The whole list for the month replaces the flags."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from services.enrollment.domain.access import Caller
from services.enrollment.domain.assistance import parse_assistance
from services.enrollment.domain.calendar import Month
from services.enrollment.domain.staff import Action
from services.enrollment.entrypoints.api.auth import acting
from services.enrollment.entrypoints.api.deps import EnrollmentDep, UnitOfWorkDep
from services.enrollment.entrypoints.api.schemas import ErrorPublic, RowRefusal
from services.enrollment.entrypoints.api.uploads import read_upload
from services.enrollment.service_layer.assistance import upload_list

router = APIRouter(prefix="/api/v1/medical-assistance", tags=["special persons"])


def month_of(raw: str) -> Month:
    """A ``YYYY-MM`` path or query value, or the 422 every malformed request gets."""
    try:
        return Month.parse(raw)
    except ValueError as exc:
        raise RequestValidationError([{"loc": ("month",), "msg": str(exc)}]) from None


class UnknownPublic(BaseModel):
    row: int = Field(description="Spreadsheet row of the person nobody registered.")
    certno: str = Field(description="Their ID number, masked.")
    name: str = Field(description="Their name as listed.")


class RejectedPublic(RowRefusal):
    pass  # a docstring would become the OpenAPI schema's description


class AssistancePublic(BaseModel):
    month: str = Field(description="The month the list is for (YYYY-MM).")
    flagged: int = Field(description="People flagged from the 1st of the month.")
    unflagged: int = Field(description="People flagged before, not on this list: unflagged.")
    unchanged: int = Field(description="People on the list already flagged.")
    unknown: list[UnknownPublic] = Field(
        description="Rows naming nobody registered for the month's year (register them)."
    )
    rejected: list[RejectedPublic] = Field(description="Rows refused, with field and reason.")
    late: bool = Field(description="True when handed in after the 5th of the month.")


@router.post(
    "/{month}",
    response_model=AssistancePublic,
    responses={
        403: {"model": ErrorPublic, "description": "Only civil affairs hands the list in."},
        422: {"model": ErrorPublic, "description": "Not a list, or not a month YYYY-MM."},
    },
    summary="Hand in the month's medical-assistance list (the whole list: it replaces flags)",
    description=(
        "CSV (UTF-8 or GB18030) or XLSX: certno 身份证号, name 姓名, region 行政区划. Flags and "
        "unflags take effect on the 1st of the month; the same list again writes nothing."
    ),
)
async def upload(
    month: Annotated[str, Path(description="The month, YYYY-MM.")],
    request: Request,
    uow: UnitOfWorkDep,
    enrollment: EnrollmentDep,
    caller: Annotated[Caller, Depends(acting(Action.UPLOAD_ASSISTANCE))],
) -> Any:
    parsed_month = month_of(month)
    data, filename, content_type = await read_upload(request)
    parsed = parse_assistance(data, filename, content_type)
    today: date = enrollment.context.today()
    return await upload_list(uow, parsed_month, parsed, caller, today)
