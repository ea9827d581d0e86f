"""``/api/v1/reports/special-persons``: the monthly change report of special persons
(《特殊人员医疗保障变动情况月报表》, SPEC §7, 004 §二(三)) as JSON, CSV or XLSX."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from services.enrollment.adapters import report_files
from services.enrollment.domain.access import Caller
from services.enrollment.domain.reports import title
from services.enrollment.domain.staff import Action
from services.enrollment.entrypoints.api.assistance import month_of
from services.enrollment.entrypoints.api.auth import acting
from services.enrollment.entrypoints.api.deps import EnrollmentDep, SettingsDep, UnitOfWorkDep
from services.enrollment.service_layer.reports import special_persons_report

router = APIRouter(prefix="/api/v1/reports", tags=["special persons"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"


@router.get(
    "/special-persons",
    summary="The monthly change report of special persons (特殊人员医疗保障变动情况月报表)",
    description="One row per organization (at_start + added − exits = at_end), the detail "
    "lines, provisional until the month ends. JSON, CSV or XLSX with Chinese headers.",
    responses={200: {"content": {"application/json": {}, "text/csv": {}, XLSX: {}}}},
)
async def report(
    month: Annotated[str, Query(description="The month, YYYY-MM.")],
    uow: UnitOfWorkDep,
    enrollment: EnrollmentDep,
    settings: SettingsDep,
    caller: Annotated[Caller, Depends(acting(Action.READ_REPORTS))],
    organization: Annotated[
        str | None, Query(description="Only this organization (乡镇街道).", max_length=200)
    ] = None,
    format: Annotated[ReportFormat, Query(description="json, csv or xlsx")] = ReportFormat.JSON,
) -> Response:
    parsed = month_of(month)
    today = enrollment.context.today()
    result = await special_persons_report(uow, parsed, caller, today, organization)
    heading = title(settings.district_name, parsed)
    if format is ReportFormat.JSON:
        return JSONResponse(report_files.as_json(result, heading))
    name = f"special-persons-{parsed}.{format.value}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format is ReportFormat.CSV:
        body = report_files.as_csv(result, heading)
        return Response(body, media_type="text/csv; charset=utf-8", headers=disposition)
    return Response(report_files.as_xlsx(result, heading), media_type=XLSX, headers=disposition)
