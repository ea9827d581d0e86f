"""The HIS API routers (SPEC §6): coverage, settlements."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import AfterValidator

from services.settlement.entrypoints.api import deps
from services.settlement.entrypoints.api.deps import CurrentHospital, JsonBody, Service, get_service
from services.settlement.entrypoints.api.language import language_of
from services.settlement.entrypoints.api.schemas import (
    CoveragePublic,
    ReversalPublic,
    SettlementPublic,
    SettlementReadPublic,
)
from services.settlement.errors import InvalidRequest
from services.settlement.service_layer.answers import MAX_KEY_LENGTH, Answer
from services.settlement.service_layer.as_of import coverage_as_of, instant
from shared.route_policy import POLICY_KEY
from shared.text import PRINTABLE

coverage = APIRouter(tags=["coverage"])
settlements = APIRouter(prefix="/settlements", tags=["settlements"])

JSON = "application/json"
CLAIM = {"content": {JSON: {"schema": {"$ref": "#/components/schemas/Claim"}}}, "required": True}
PsnNo = Annotated[str, Path(description="Person number (psn_no).", pattern=PRINTABLE)]
SetlId = Annotated[str, Path(description="The settlement's setl_id.", pattern=PRINTABLE)]
UNKNOWN = "No such insured person (UNKNOWN_PERSON)."
NO_SETTLEMENT = "No settlement of this hospital with that id (SETTLEMENT_NOT_FOUND)."
Day = Annotated[
    date | None, Query(description="The date asked about (YYYY-MM-DD); default today in China.")
]


def _in_the_calendar(moment: datetime | None) -> datetime | None:
    """An ``as_of`` the calendar holds in UTC too (the first hours of year 1 at +08:00 or +14:00
    are before it): refused as invalid, not left to overflow in the query."""
    if moment is not None:
        try:
            instant(moment)
        except InvalidRequest:
            raise ValueError("as_of is before the calendar's first instant in UTC") from None
    return moment


AsOf = Annotated[
    datetime | None,
    Query(
        description="An instant (ISO 8601; without a zone, China time): answer as the service "
        "did then, from the events and settlements recorded up to it."
    ),
    AfterValidator(_in_the_calendar),
]
AS_OF_REFUSED = (
    "AS_OF_IN_FUTURE: as_of is later than now; AS_OF_UNAVAILABLE: earlier than the person's "
    "kept history (404 UNKNOWN_PERSON when settlement had not heard of them then)."
)


def answers(
    model: type[Any], refusals: dict[int, str] | None = None, status: int = 200
) -> dict[int | str, Any]:
    """A route's ``responses``: its answer's schema and the refusals particular to it
    (``shared.openapi`` adds 401 and 422, and the error body to every refusal)."""
    documented: dict[int | str, Any] = {status: {"model": model}}
    for code, description in (refusals or {}).items():
        documented[code] = {"description": description}
    return documented


def _response(answer: Answer) -> Response:
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return Response(answer.body, status_code=answer.status, media_type=JSON, headers=headers)


@coverage.get(
    "/persons/{psn_no}/coverage",
    response_model=None,  # the answer is documented, not re-validated (``responses``)
    responses=answers(CoveragePublic, {404: UNKNOWN, 422: AS_OF_REFUSED}),
)
async def coverage_by_psn_no(
    psn_no: PsnNo,
    service: Service,
    _hospital: CurrentHospital,
    date: Day = None,
    as_of: AsOf = None,
) -> dict[str, Any]:
    """Eligibility on ``date`` (default today), identity, accumulators, caps left (1101+5206);
    with ``as_of``, as the service answered at that instant (SPEC §10)."""
    if as_of is not None:
        return await coverage_as_of(service, psn_no, date, as_of)
    return await service.coverage(psn_no=psn_no, on=date)


@coverage.get("/coverage", response_model=None, responses=answers(CoveragePublic, {404: UNKNOWN}))
async def coverage_by_certno(
    certno: Annotated[str, Query(description="Resident ID number.", pattern=PRINTABLE)],
    service: Service,
    _hospital: CurrentHospital,
    date: Day = None,
) -> dict[str, Any]:
    """The same, found by resident ID number."""
    return await service.coverage(certno=certno, on=date)


@settlements.post(
    "/preview", responses=answers(SettlementPublic), openapi_extra={"requestBody": CLAIM}
)
async def preview(
    body: JsonBody,
    service: Service,
    hospital: CurrentHospital,
    accept_language: Annotated[str | None, Header()] = None,
) -> Response:
    """The full result; nothing stored (2303). ``Accept-Language: zh``: the receipt in Chinese."""
    return _response(await service.preview(hospital, body, language_of(accept_language)))


@settlements.post(
    "",
    status_code=201,
    responses=answers(
        SettlementPublic,
        {409: "The key was used for another claim, or the visit is already settled."},
        status=201,
    ),
    openapi_extra={
        "parameters": [
            {
                "in": "header",
                "name": "Idempotency-Key",
                "required": True,
                "description": "The HIS's key of this settlement: a retry with it and the same"
                " claim is answered as the first time (header Idempotent-Replayed: true).",
                "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
            },
            {
                "in": "header",
                "name": "Authorization",
                "required": False,
                "description": "Bearer KEY: the hospital's API key.",
                "schema": {"type": "string"},
            },
        ],
        "requestBody": CLAIM,
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
        request.headers.get("accept-language"),
    )
    return _response(answer)


@settlements.post(
    "/{setl_id}/reverse",
    responses=answers(ReversalPublic, {404: NO_SETTLEMENT, 409: "Already reversed."}),
)
async def reverse(setl_id: SetlId, service: Service, hospital: CurrentHospital) -> Response:
    """Reverse a settlement of this hospital, once (2305)."""
    return _response(await service.reverse(hospital, setl_id))


@settlements.get(
    "/{setl_id}",
    response_model=None,
    responses=answers(SettlementReadPublic, {404: NO_SETTLEMENT}),
)
async def read(setl_id: SetlId, service: Service, hospital: CurrentHospital) -> dict[str, Any]:
    """A settlement of this hospital as answered, with its status (5203)."""
    return await service.read(hospital, setl_id)
