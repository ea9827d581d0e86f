"""The HIS API routers (SPEC §6): coverage, settlements."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request, Response

from services.settlement.entrypoints.api import deps
from services.settlement.entrypoints.api.deps import CurrentHospital, JsonBody, Service, get_service
from services.settlement.service_layer.answers import Answer
from shared.route_policy import POLICY_KEY

coverage = APIRouter(tags=["coverage"])
settlements = APIRouter(prefix="/settlements", tags=["settlements"])

JSON = "application/json"


def _response(answer: Answer) -> Response:
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return Response(answer.body, status_code=answer.status, media_type=JSON, headers=headers)


@coverage.get("/persons/{psn_no}/coverage")
async def coverage_by_psn_no(
    psn_no: str, service: Service, _hospital: CurrentHospital, date: date | None = None
) -> dict[str, Any]:
    """Eligibility on ``date`` (default today), identity, accumulators, caps left (1101+5206)."""
    return await service.coverage(psn_no=psn_no, on=date)


@coverage.get("/coverage")
async def coverage_by_certno(
    certno: str, service: Service, _hospital: CurrentHospital, date: date | None = None
) -> dict[str, Any]:
    """The same, found by resident ID number."""
    return await service.coverage(certno=certno, on=date)


@settlements.post("/preview")
async def preview(body: JsonBody, service: Service, hospital: CurrentHospital) -> Response:
    """The full result; nothing stored (2303)."""
    return _response(await service.preview(hospital, body))


@settlements.post(
    "",
    status_code=201,
    openapi_extra={
        "parameters": [{"in": "header", "name": "Idempotency-Key", "required": True}],
        "requestBody": {"content": {JSON: {"schema": {"type": "object"}}}, "required": True},
        # It reads the hospital key itself (deps.settle), so it declares the policy by hand.
        POLICY_KEY: deps.HOSPITAL_KEY.as_openapi(),
    },
)
async def settle(request: Request) -> Response:
    """Settle and post to the accumulator; retries with the same key replay the answer (2304).

    The hot path: served by ``fast.SettleFastPath`` ahead of the router, with the same handler
    (``deps.settle``); here it reads the request itself rather than through dependencies, whose
    solving cost a tenth of a settlement's server time.
    """
    answer = await deps.settle(
        await get_service(request),
        request.headers.get("authorization"),
        request.headers.get("idempotency-key"),
        request.body,
    )
    return _response(answer)


@settlements.post("/{setl_id}/reverse")
async def reverse(setl_id: str, service: Service, hospital: CurrentHospital) -> Response:
    """Reverse a settlement of this hospital, once (2305)."""
    return _response(await service.reverse(hospital, setl_id))


@settlements.get("/{setl_id}")
async def read(setl_id: str, service: Service, hospital: CurrentHospital) -> dict[str, Any]:
    """A settlement of this hospital as answered, with its status (5203)."""
    return await service.read(hospital, setl_id)
