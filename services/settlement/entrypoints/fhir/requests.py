"""FHIR R4 requests read: a ``Claim`` or a ``CoverageEligibilityRequest`` validated against the
``fhir.resources`` models (R4B, the R4 line's technical correction: the financial resources'
elements used here are R4's), then turned into the HIS API's own terms (docs/fhir.md).

A resource that does not validate is ``INVALID_RESOURCE`` (HTTP 400); one that validates but
lacks what a settlement needs (the patient, the visit, the claim type) is ``INVALID_REQUEST``.
The claim's amounts and times go to the settlement service as written, which checks them with
the HIS API's codes.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.coverageeligibilityrequest import CoverageEligibilityRequest
from pydantic import ValidationError

from services.settlement.engine.claim import MedType
from services.settlement.engine.region import Region
from services.settlement.errors import InvalidRequest
from shared import json_body

SYSTEM = "urn:resident-medical-insurance"
MED_TYPE_SYSTEM = f"{SYSTEM}:med_type"
AMOUNT_SYSTEM = f"{SYSTEM}:amount"
SELF_PAID = ("fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt")


class InvalidResource(InvalidRequest):
    """A body that is not a valid FHIR resource of the expected type (HTTP 400)."""


def resource(body: bytes, expected: str, model: Any) -> Any:
    """The body as a validated resource of type ``expected``."""
    try:
        document = json_body.loads(body)
    except json_body.NotJson as exc:
        raise InvalidResource("INVALID_RESOURCE", str(exc)) from None
    if not isinstance(document, dict) or document.get("resourceType") != expected:
        raise InvalidResource("INVALID_RESOURCE", f"the body must be a {expected} resource")
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_url=False)[:5]
        )
        raise InvalidResource("INVALID_RESOURCE", f"{expected}: {problems}") from None


def _reference_id(reference: Any, kind: str) -> str:
    text = (reference.reference or "") if reference is not None else ""
    if text.startswith(f"{kind}/") and len(text) > len(kind) + 1:
        return text.split("/", 1)[1]
    if reference is not None and reference.identifier is not None and reference.identifier.value:
        return str(reference.identifier.value)
    raise InvalidRequest("INVALID_REQUEST", f"a reference to {kind}/<id> is required")


def patient_of(resource_: Any) -> str:
    """``Patient/{psn_no}`` (or an identifier whose value is the psn_no)."""
    return _reference_id(resource_.patient, "Patient")


def claim_body(region: Region, claim: Claim) -> dict[str, Any]:
    """The HIS API's claim body of a FHIR Claim (the mapping table is docs/fhir.md)."""
    encounters = [e for item in claim.item or () for e in item.encounter or ()]
    if not encounters:
        raise InvalidRequest("INVALID_REQUEST", "Claim.item.encounter: the visit is required")
    period = claim.billablePeriod
    body: dict[str, Any] = {
        "psn_no": patient_of(claim),
        "mdtrt_id": _reference_id(encounters[0], "Encounter"),
        "med_type": str(_med_type(region, claim)),
        "begntime": str(period.start) if period and period.start else None,
        "endtime": str(period.end) if period and period.end else None,
        "medfee_sumamt": _money(claim.total.value if claim.total else None),
    }
    body.update(dict.fromkeys(SELF_PAID, "0.00"))
    for info in claim.supportingInfo or ():
        code = _code(info.category, AMOUNT_SYSTEM)
        if code in SELF_PAID and info.valueQuantity is not None:
            body[code] = _money(info.valueQuantity.value)
    diagnoses = [d.diagnosisCodeableConcept for d in claim.diagnosis or ()]
    codes = [c.code for d in diagnoses if d is not None for c in d.coding or () if c.code]
    body["dise_codg"] = codes[0] if codes else None
    return body


def _money(value: Any) -> Any:
    # Exact: a Decimal as written (json parsed with parse_float=Decimal); None stays missing.
    return None if value is None else f"{Decimal(value):f}"


def _code(concept: Any, system: str) -> str | None:
    for coding in (concept.coding or ()) if concept is not None else ():
        if coding.system == system and coding.code:
            return str(coding.code)
    return None


def _med_type(region: Region, claim: Claim) -> MedType:
    code = _code(claim.subType, MED_TYPE_SYSTEM)
    if code is None:
        raise InvalidRequest("INVALID_REQUEST", f"Claim.subType: a {MED_TYPE_SYSTEM} code")
    named = region.med_type_named(code)
    if named is None and code in {str(t) for t in MedType}:
        named = MedType(code)
    if named is None:
        raise InvalidRequest("INVALID_REQUEST", f"Claim.subType: unknown med_type {code}")
    return named


def eligibility(request: CoverageEligibilityRequest) -> tuple[str, date | None]:
    """The person and the date an eligibility question asks about."""
    served = request.servicedDate
    return patient_of(request), served if isinstance(served, date) else None
