"""FHIR R4 at ``/fhir/R4`` (SPEC §9): the same settlements in HL7's resources.

``Claim/$submit`` previews (``use`` ``predetermination``) or settles (``claim``, the hospital's
``Claim.identifier`` the idempotency key) through ``SettlementService``, like the HIS API and the
NHSA gateway: one adjudication, one ledger. ``install(app)`` is the app factory's one line.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Request, Response
from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.coverageeligibilityrequest import CoverageEligibilityRequest

from services.settlement.engine.region import Region, load_region
from services.settlement.entrypoints.api import deps
from services.settlement.entrypoints.api.errors import STATUS
from services.settlement.entrypoints.api.language import language_of
from services.settlement.entrypoints.fhir import requests, resources
from services.settlement.errors import InvalidRequest
from shared.errors import CodedError
from shared.route_policy import POLICY_KEY, PUBLIC
from shared.text import PRINTABLE

FHIR_JSON = "application/fhir+json"
BASE = "/fhir/R4"
router = APIRouter(prefix=BASE, tags=["fhir"])


class FhirResponse(Response):
    """Every FHIR answer, refusals too, is ``application/fhir+json`` (for the OpenAPI document)."""

    media_type = FHIR_JSON


def _resource(kind: str) -> dict[str, Any]:
    schema = {"type": "object", "required": ["resourceType"]}
    return {FHIR_JSON: {"schema": {**schema, "properties": {"resourceType": {"const": kind}}}}}


REFUSALS = {
    400: "Not a FHIR resource of the expected type (INVALID_RESOURCE).",
    401: "No, or an unknown hospital key (UNAUTHENTICATED).",
    404: "No such person or settlement of this hospital.",
    409: "The Claim.identifier was used for another claim, or the visit is settled.",
    422: "A rule refused the claim (the SPEC §5 codes).",
}


def _documented(answer: str, request: str | None, *refusals: int) -> dict[str, Any]:
    """A FHIR route's OpenAPI: its answer, its request body, its refusals (OperationOutcome)."""
    responses: dict[int | str, Any] = {200: {"content": _resource(answer)}}
    for status in refusals:
        content = _resource("OperationOutcome")
        responses[status] = {"description": REFUSALS[status], "content": content}
    extra: dict[str, Any] = {POLICY_KEY: deps.HOSPITAL_KEY.as_openapi()}
    if request is not None:
        extra["requestBody"] = {"content": _resource(request), "required": True}
    return {"response_class": FhirResponse, "responses": responses, "openapi_extra": extra}


_SUBMIT = _documented("ClaimResponse", "Claim", 400, 401, 409, 422)
_ELIGIBILITY = _documented(
    "CoverageEligibilityResponse", "CoverageEligibilityRequest", 400, 401, 404, 422
)
_EOB = _documented("ExplanationOfBenefit", None, 401, 404)


def _region(request: Request) -> Region:
    return load_region(getattr(request.app.state.settings, "region", None) or "liaocheng")


def _answer(body: bytes, status: int = 200, **headers: str) -> Response:
    return Response(body, status_code=status, media_type=FHIR_JSON, headers=headers or None)


def refusal(exc: CodedError) -> Response:
    """A refusal as an ``OperationOutcome`` with the HIS API's status and code."""
    status = 400 if isinstance(exc, requests.InvalidResource) else STATUS.get(type(exc), 422)
    return _answer(resources.operation_outcome(exc.code, exc.message), status)


@router.get(
    "/metadata",
    response_class=FhirResponse,
    responses={200: {"content": _resource("CapabilityStatement")}},
    openapi_extra={POLICY_KEY: PUBLIC.as_openapi()},
)
async def metadata(request: Request) -> Response:
    """The CapabilityStatement."""
    return _answer(resources.capability_statement(_region(request)))


@router.post("/Claim/$submit", **_SUBMIT)
async def submit(request: Request) -> Response:
    """A Claim: ``predetermination`` → a preview; ``claim`` → a settlement (ClaimResponse)."""
    try:
        service = await deps.get_service(request)
        hospital = await deps.current_hospital(service, request.headers.get("authorization"))
        claim = requests.resource(await request.body(), "Claim", Claim)
        region = _region(request)
        body = requests.claim_body(region, claim)
        language = language_of(request.headers.get("accept-language"))
        key = next((i.value for i in claim.identifier or () if i.value), None)
        if claim.use == "predetermination":
            answer = await service.preview(hospital, body, language)
        elif claim.use == "claim":
            answer = await service.settle(hospital, body, key, language)
        else:
            raise InvalidRequest(
                "INVALID_REQUEST", f"Claim.use {claim.use}: claim or predetermination"
            )
        document = json.loads(answer.body)
        out = resources.claim_response(region, document, str(claim.use), key)
    except CodedError as exc:
        return refusal(exc)
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    return _answer(out, **headers)


async def _eligibility(request: Request) -> Response:
    try:
        service = await deps.get_service(request)
        await deps.current_hospital(service, request.headers.get("authorization"))
        asked = requests.resource(
            await request.body(), "CoverageEligibilityRequest", CoverageEligibilityRequest
        )
        psn_no, on = requests.eligibility(asked)
        coverage = await service.coverage(psn_no=psn_no, on=on)
        purpose = [str(p) for p in asked.purpose or ()]
        return _answer(resources.eligibility_response(coverage, purpose))
    except CodedError as exc:
        return refusal(exc)


router.add_api_route(
    "/CoverageEligibilityRequest", _eligibility, methods=["POST"], **_ELIGIBILITY,
    summary="CoverageEligibilityRequest → CoverageEligibilityResponse",
)  # fmt: skip
router.add_api_route(
    "/CoverageEligibilityRequest/$submit", _eligibility, methods=["POST"], **_ELIGIBILITY,
    summary="The same, as an operation",
)  # fmt: skip


@router.get("/ExplanationOfBenefit/{setl_id}", **_EOB)
async def explanation_of_benefit(
    setl_id: Annotated[str, Path(pattern=PRINTABLE)], request: Request
) -> Response:
    """A settlement of this hospital as an ExplanationOfBenefit."""
    try:
        service = await deps.get_service(request)
        hospital = await deps.current_hospital(service, request.headers.get("authorization"))
        document: dict[str, Any] = await service.read(hospital, setl_id)
        return _answer(resources.explanation_of_benefit(_region(request), document, hospital.code))
    except CodedError as exc:
        return refusal(exc)


def install(app: FastAPI) -> None:
    """Serve FHIR R4 on ``app``."""
    app.include_router(router)
