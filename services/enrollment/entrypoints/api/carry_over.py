"""``/api/v1/carry-over/{year}``: the annual carry-over list of special persons (SPEC §7, 004 §一).

A department uploads its list (``department`` role, its own source), the district reads the merged
list and submits it, the city freezes it. Each route declares its action; the handlers check the
scope (a department's source, a district's region).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from services.enrollment.domain.access import Caller
from services.enrollment.domain.carry_over import parse_carry_over
from services.enrollment.domain.staff import Action
from services.enrollment.entrypoints.api.auth import acting
from services.enrollment.entrypoints.api.deps import EnrollmentDep, UnitOfWorkDep
from services.enrollment.entrypoints.api.schemas import ErrorPublic, RowRefusal
from services.enrollment.entrypoints.api.uploads import read_upload
from services.enrollment.service_layer import carry_over
from services.enrollment.service_layer.persons import Context
from services.enrollment.service_layer.unit_of_work import UnitOfWorkFactory

router = APIRouter(prefix="/api/v1/carry-over", tags=["special persons"])

Year = Annotated[int, Path(ge=2000, le=2100, description="Insurance year carried over into.")]
ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorPublic, "description": "Not this role's, or not this source's list."},
    409: {
        "model": ErrorPublic,
        "description": "CARRY_OVER_FROZEN, CARRY_OVER_CONFLICTS or CARRY_OVER_NOT_SUBMITTED.",
    },
    404: {"model": ErrorPublic, "description": "Unknown source (UNKNOWN_SOURCE)."},
    422: {"model": ErrorPublic, "description": "Not a list (INVALID_LIST_FILE), invalid request."},
}


class RowErrorPublic(RowRefusal):
    row: int = Field(description="Spreadsheet row number (the file's first row is 1).")


class CarryOverUploadPublic(BaseModel):
    insurance_year: int = Field(description="The year the list carries people into.")
    source: str = Field(description="The department whose list it is.")
    accepted: int = Field(description="Rows accepted (the list now holds these).")
    rejected: list[RowErrorPublic] = Field(description="Every refused row, field and reason.")


class ConflictPublic(BaseModel):
    certno: str = Field(description="The person's ID number, masked.")
    identities: dict[str, str] = Field(description="Source department → identity it lists.")


class SourcePublic(BaseModel):
    rows: int = Field(description="Rows of this source's list (within your scope).")
    uploaded_at: str = Field(description="When the list was handed in (UTC).")
    uploaded_by: str = Field(description="Who handed it in.")
    rejected: int = Field(description="Rows refused at upload.")


class CarryOverPublic(BaseModel):
    insurance_year: int = Field(description="The year carried over into.")
    status: str = Field(description="draft, submitted or frozen.")
    sources: dict[str, SourcePublic] = Field(description="Per source department, its list.")
    persons: int = Field(description="Distinct people on the merged list (within your scope).")
    resolved_by_priority: int = Field(description="People the identity priority order decided.")
    conflicts: list[ConflictPublic] = Field(description="People no priority decides: to fix.")
    submitted_at: str | None = Field(description="When the district submitted it.")
    submitted_by: str | None = Field(description="Who submitted it.")
    frozen_at: str | None = Field(description="When the city froze it.")
    frozen_by: str | None = Field(description="Who froze it.")


class RefusedPublic(BaseModel):
    certno: str = Field(description="The person's ID number, masked.")
    code: str = Field(description="Why the person could not be carried over (e.g. deceased).")
    reason: str = Field(description="Readable reason.")


class FreezePublic(BaseModel):
    insurance_year: int = Field(description="The year frozen.")
    status: str = Field(description="frozen.")
    persons: int = Field(description="People on the frozen list.")
    registered: int = Field(description="People newly registered for the year by the freeze.")
    identity_set: int = Field(description="People whose identity or flag changed on 1 January.")
    already_carried_over: int = Field(description="People carried over by an earlier freeze.")
    paid_on_behalf: int = Field(description="Premiums to pay the tax bureau on their behalf.")
    refused: list[RefusedPublic] = Field(description="People the freeze could not carry over.")


@router.post(
    "/{year}/lists/{source}",
    response_model=CarryOverUploadPublic,
    responses=ERRORS,
    summary="Hand in a department's carry-over list for a year (replaces its earlier one)",
    description=(
        "CSV (UTF-8 or GB18030) or XLSX, as multipart/form-data (field `file`) or the raw body. "
        "Columns: certno 身份证号, name 姓名, identity 身份, medical_assistance 医疗救助 (是/否), "
        "region 行政区划, organization 乡镇街道, optional category 类别."
    ),
)
async def upload(
    year: Year,
    source: Annotated[str, Path(description="civil_affairs, disabled_federation, health, …")],
    request: Request,
    uow: UnitOfWorkDep,
    caller: Annotated[Caller, Depends(acting(Action.UPLOAD_CARRY_OVER))],
) -> Any:
    department = carry_over.parse_source(source)
    data, filename, content_type = await read_upload(request)
    parsed = parse_carry_over(data, filename, content_type)
    return await carry_over.upload(uow, year, department, parsed, caller)


@dataclass(frozen=True)
class ListYear:
    """What the list's routes work on: the year, the units of work, the handlers' context."""

    year: int
    uow: UnitOfWorkFactory
    ctx: Context


def list_year(year: Year, uow: UnitOfWorkDep, enrollment: EnrollmentDep) -> ListYear:
    return ListYear(year, uow, enrollment.context)


ListYearDep = Annotated[ListYear, Depends(list_year)]


def _list_route(
    method: str,
    path: str,
    action: Action,
    handler: Callable[[UnitOfWorkFactory, int, Caller, Context], Awaitable[Any]],
    answer: type[BaseModel],
    summary: str,
    description: str | None = None,
) -> None:
    """A route on the year's merged list: ``action``'s holders call ``handler(uow, year, caller,
    ctx)`` (the operation is named after the handler, as the routes always were)."""

    # A default, not an Annotated[...]: annotations are strings here (PEP 563), and a string
    # naming this function's ``action`` cannot be resolved by FastAPI.
    async def endpoint(on: ListYearDep, caller: Caller = Depends(acting(action))) -> Any:
        return await handler(on.uow, on.year, caller, on.ctx)

    router.add_api_route(
        f"/{{year}}{path}",
        endpoint,
        methods=[method],
        name=handler.__name__,
        response_model=answer,
        responses=ERRORS,
        summary=summary,
        description=description,
    )


_list_route(
    "GET",
    "",
    Action.READ_CARRY_OVER,
    carry_over.read,
    CarryOverPublic,
    "The year's merged carry-over list: status, counts, conflicts",
)
_list_route(
    "POST",
    "/submit",
    Action.SUBMIT_CARRY_OVER,
    carry_over.submit,
    CarryOverPublic,
    "The district submits the merged list to the city (no conflicts left)",
)
_list_route(
    "POST",
    "/freeze",
    Action.FREEZE_CARRY_OVER,
    carry_over.freeze,
    FreezePublic,
    "The city freezes the list: everyone on it carried over, effective 1 January",
    "Freezing again changes nothing and answers the same.",
)
