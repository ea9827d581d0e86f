"""Collection routes: school-list upload, basic data, unmatched tax payments, subsidies.

Each route declares who may call it (``acting(Action.X)``); the handlers read only what lies in
the caller's scope, mask ID numbers the role may not see whole, and audit every download.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from services.enrollment.domain.access import Caller
from services.enrollment.domain.basic_data import csv_chunks, json_chunks
from services.enrollment.domain.school_lists import ListFormatError, parse_list
from services.enrollment.domain.staff import Action
from services.enrollment.entrypoints.api.auth import acting
from services.enrollment.entrypoints.api.deps import SettingsDep, UnitOfWorkDep
from services.enrollment.entrypoints.api.errors import error
from services.enrollment.entrypoints.api.schemas import CSV_OR_JSON, RowRefusal, csv_or_json
from services.enrollment.entrypoints.api.uploads import UploadRefused, read_upload
from services.enrollment.service_layer import basic_data as basic_data_service
from services.enrollment.service_layer.school_lists import ImportBy, import_rows
from services.enrollment.service_layer.subsidy_list import COLUMNS as SUBSIDY_COLUMNS
from services.enrollment.service_layer.subsidy_list import subsidy_rows
from services.enrollment.service_layer.unmatched import unmatched_rows
from shared.text import PRINTABLE

router = APIRouter(prefix="/api/v1", tags=["collection"])

Year = Annotated[int, Query(ge=2000, le=2100, description="Insurance year.")]


class Format(StrEnum):
    CSV = "csv"
    JSON = "json"


class RowErrorPublic(RowRefusal):
    row: int = Field(description="Spreadsheet row number (the header is row 1).")


class ImportReportPublic(BaseModel):
    insurance_year: int = Field(description="The year the rows were registered for.")
    rows: int = Field(description="Person rows read from the file (blank rows not counted).")
    registered: int = Field(description="People newly registered for the year.")
    already_registered: int = Field(description="Rows already registered for the year: no-ops.")
    out_of_window: int = Field(
        0, description="Rows registered outside the year's registration window (flagged)."
    )
    rejected: int = Field(description="Rows refused (see errors).")
    errors: list[RowErrorPublic] = Field(description="Every refused row, field and reason.")


class UnmatchedPublic(BaseModel):
    id: int = Field(description="Row id in the unmatched list.")
    tax_serial: str | None = Field(description="The message's tax_serial, when it had one.")
    reason: str = Field(description="Stable reason code, e.g. UNKNOWN_CERTNO, MALFORMED_JSON.")
    message: str = Field(description="Readable explanation.")
    raw: str = Field(description="The message as received (ID numbers masked).")
    received_at: str = Field(description="When it was first received (UTC).")
    resolved_at: str | None = Field(description="When a retry applied it (or found it a dup).")
    resolution: str | None = Field(description="applied or duplicate, once resolved.")


@router.post(
    "/persons/batch",
    response_model=ImportReportPublic,
    summary="Register a school's list (CSV UTF-8/GB18030 or XLSX)",
    description=(
        "Upload the list as multipart/form-data (field `file`) or as the raw request body. "
        "Columns: certno, name, category, organization, region, identity. Good rows are "
        "registered even when others are bad; importing the same file again changes nothing."
    ),
)
async def import_list(
    request: Request,
    year: Year,
    uow: UnitOfWorkDep,
    settings: SettingsDep,
    caller: Annotated[Caller, Depends(acting(Action.IMPORT_LIST))],
) -> Any:
    try:
        data, filename, content_type = await read_upload(request)
    except UploadRefused as exc:
        return error(exc.status, exc.code, exc.message)
    try:
        parsed = parse_list(data, filename, content_type)
    except ListFormatError as exc:
        return error(422, exc.code, exc.message)
    by = ImportBy.file(caller, data)
    report = await import_rows(uow, parsed, year, settings.premium_rules_dir, by=by)
    return report.as_dict()


@router.get(
    "/basic-data",
    summary="Basic data for the tax bureau: everyone registered for a year",
    description="CSV (UTF-8 with BOM, opens in Excel) or JSON: what each person owes, who pays.",
    responses=CSV_OR_JSON,
)
async def basic_data(
    year: Year,
    uow: UnitOfWorkDep,
    caller: Annotated[Caller, Depends(acting(Action.READ_BASIC_DATA))],
    format: Annotated[Format, Query(description="csv or json")] = Format.CSV,
) -> Response:
    # Streamed a page of people at a time: a city's year does not sit in memory at once.
    pages = await basic_data_service.export(uow, year, caller, detail={"format": format.value})
    if format is Format.JSON:
        return StreamingResponse(json_chunks(pages), media_type="application/json")
    return StreamingResponse(
        csv_chunks(pages),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="basic-data-{year}.csv"'},
    )


class PublishedPublic(BaseModel):
    insurance_year: int = Field(description="The year published.")
    queued: int = Field(description="Messages queued for enrollment.basic-data (one a person).")


@router.post(
    "/basic-data/publish",
    response_model=PublishedPublic,
    summary="Queue the basic data of a year for the tax bureau on enrollment.basic-data",
    description="One JSON message per person, key psn_no, through the outbox (at least once).",
)
async def publish_basic_data(
    year: Year,
    uow: UnitOfWorkDep,
    caller: Annotated[Caller, Depends(acting(Action.PUBLISH_BASIC_DATA))],
) -> Any:
    queued = await basic_data_service.publish(uow, year, caller)
    return {"insurance_year": year, "queued": queued}


@router.get(
    "/payments/unmatched",
    response_model=list[UnmatchedPublic],
    summary="Tax messages that could not be applied (also on tax.premium-payments.dlq)",
)
async def unmatched(
    uow: UnitOfWorkDep,
    caller: Annotated[Caller, Depends(acting(Action.READ_UNMATCHED))],
    resolved: Annotated[
        bool | None, Query(description="Only resolved (true) or open (false) ones.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Any:
    return await unmatched_rows(uow, caller, resolved, limit)


@router.get(
    "/subsidies",
    summary="Subsidies granted for a year (by default those to pay out)",
    description="status=payable (default) is the pay-out list; status=all lists every subsidy.",
    responses=CSV_OR_JSON,
)
async def subsidy_list(
    year: Year,
    uow: UnitOfWorkDep,
    caller: Annotated[Caller, Depends(acting(Action.READ_SUBSIDIES))],
    format: Annotated[Format, Query(description="csv or json")] = Format.JSON,
    status: Annotated[
        str,
        Query(description="payable, pending_policy, paid_by_government or all", pattern=PRINTABLE),
    ] = "payable",
) -> Response:
    rows = await subsidy_rows(uow, year, caller, None if status == "all" else status)
    return csv_or_json(format, rows, SUBSIDY_COLUMNS, f"subsidies-{year}.csv")
