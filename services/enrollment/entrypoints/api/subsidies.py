"""``/api/v1/subsidies/on-behalf`` and ``/api/v1/subsidies/{id}/paid``: the list the district
sends the tax bureau (代缴), and the payout of a subsidy (SPEC §7, 004 §二(二))."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from services.enrollment.domain.access import Caller
from services.enrollment.domain.staff import Action
from services.enrollment.entrypoints.api.auth import acting
from services.enrollment.entrypoints.api.deps import EnrollmentDep, UnitOfWorkDep
from services.enrollment.entrypoints.api.schemas import CSV_OR_JSON, ErrorPublic, csv_or_json
from services.enrollment.service_layer import subsidies
from shared.text import NO_NUL, PRINTABLE

router = APIRouter(prefix="/api/v1/subsidies", tags=["special persons"])


class ListFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


class Payout(BaseModel):
    """The district paid a subsidy out."""

    model_config = ConfigDict(extra="forbid")

    paid_on: date = Field(description="The day it was paid (not in the future).")
    reference: str = Field(
        description="The payment's reference (bank or treasury voucher).",
        min_length=1,
        pattern=NO_NUL,
    )


class SubsidyPublic(BaseModel):
    subsidy_id: str = Field(description="The subsidy's id (its subsidy-granted event's id).")
    psn_no: str = Field(description="The person.")
    insurance_year: int = Field(description="The year subsidised.")
    kind: str = Field(description="paid_on_behalf, refund_after_payment or low_income_60.")
    amount: str = Field(description="Yuan, two decimals.")
    status: str = Field(description="paid.")
    paid_on: str | None = Field(description="The day it was paid.")
    reference: str | None = Field(description="The payment's reference.")


@router.get(
    "/on-behalf",
    summary="Premiums to pay the tax bureau on people's behalf (代缴) for a year",
    description="Payable, not yet paid; within your scope. ID numbers masked (psn_no matches "
    "the basic data the tax bureau has).",
    responses=CSV_OR_JSON,
)
async def on_behalf(
    year: Annotated[int, Query(ge=2000, le=2100, description="Insurance year.")],
    uow: UnitOfWorkDep,
    caller: Annotated[Caller, Depends(acting(Action.READ_SUBSIDIES))],
    format: Annotated[ListFormat, Query(description="csv or json")] = ListFormat.JSON,
) -> Response:
    rows = await subsidies.on_behalf_rows(uow, year, caller)
    return csv_or_json(format, rows, subsidies.ON_BEHALF_COLUMNS, f"on-behalf-{year}.csv")


@router.post(
    "/{subsidy_id}/paid",
    response_model=SubsidyPublic,
    responses={
        404: {"model": ErrorPublic, "description": "No such subsidy (in your scope)."},
        409: {"model": ErrorPublic, "description": "SUBSIDY_NOT_PAYABLE (cancelled, pending…)."},
        422: {"model": ErrorPublic, "description": "A date in the future, an empty reference."},
    },
    summary="Record that a subsidy was paid out (payable → paid)",
)
async def paid(
    subsidy_id: Annotated[
        str, Path(description="The subsidy's id.", max_length=36, pattern=PRINTABLE)
    ],
    body: Payout,
    uow: UnitOfWorkDep,
    enrollment: EnrollmentDep,
    caller: Annotated[Caller, Depends(acting(Action.PAY_SUBSIDIES))],
) -> Any:
    return await subsidies.record_payout(
        uow,
        subsidy_id,
        paid_on=body.paid_on,
        reference=body.reference,
        caller=caller,
        today=enrollment.context.today(),
    )
