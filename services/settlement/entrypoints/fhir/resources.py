"""FHIR R4 answers: our results as ``ClaimResponse``, ``ExplanationOfBenefit``,
``CoverageEligibilityResponse``, ``CapabilityStatement`` and ``OperationOutcome``.

Each is built as a plain document and passed through its ``fhir.resources`` model before it is
sent, so nothing leaves that does not validate. Adjudication categories are the standard ones
(http://terminology.hl7.org/CodeSystem/adjudication): ``submitted`` (the total), ``eligible``
(the policy-scope amount), ``deductible``, ``benefit`` (one per fund, the fund code as the
reason) and ``copay`` (what the patient pays).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.claimresponse import ClaimResponse
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse
from fhir.resources.R4B.explanationofbenefit import ExplanationOfBenefit
from fhir.resources.R4B.operationoutcome import OperationOutcome

from services.settlement.engine.region import Region
from services.settlement.entrypoints.fhir.requests import MED_TYPE_SYSTEM, SYSTEM

ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
FUND_SYSTEM = f"{SYSTEM}:fund_pay_type"
SETTLEMENT_SYSTEM = f"{SYSTEM}:setl_id"
CODE_SYSTEM = f"{SYSTEM}:code"
CAP_SYSTEM = f"{SYSTEM}:cap"
CURRENCY = "CNY"
INSURER = {"display": "城乡居民基本医疗保险 resident basic medical insurance"}
FUND_FIELDS = ("hifp_pay", "hifmi_pay", "maf_pay")
TYPES = {
    "inpatient": "institutional",
    "chronic_outpatient": "professional",
    "general_outpatient": "professional",
    "accident_outpatient": "professional",
}


def _money(amount: str | Decimal) -> dict[str, Any]:
    return {"value": Decimal(amount), "currency": CURRENCY}


def _concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _adjudication(region: Region, document: dict[str, Any]) -> list[dict[str, Any]]:
    """Header-level adjudication: the standard categories, a ``benefit`` per fund."""
    rows = [
        {"category": _concept(ADJUDICATION, "submitted"), "amount": _money(document[name])}
        for name in ("medfee_sumamt",)
    ]
    rows.append({"category": _concept(ADJUDICATION, "eligible"),
                 "amount": _money(document["inscp_scp_amt"])})  # fmt: skip
    rows.append({"category": _concept(ADJUDICATION, "deductible"),
                 "amount": _money(document["act_pay_dedc"])})  # fmt: skip
    for field in FUND_FIELDS:
        fund = region.fund(field)
        rows.append(
            {
                "category": _concept(ADJUDICATION, "benefit"),
                "reason": _concept(FUND_SYSTEM, fund.code, fund.name),
                "amount": _money(document[field]),
            }
        )
    rows.append({"category": _concept(ADJUDICATION, "copay"),
                 "amount": _money(document["psn_part_amt"])})  # fmt: skip
    return rows


def _totals(document: dict[str, Any]) -> list[dict[str, Any]]:
    pairs = (
        ("submitted", "medfee_sumamt"),
        ("eligible", "inscp_scp_amt"),
        ("deductible", "act_pay_dedc"),
        ("benefit", "fund_pay_sumamt"),
        ("copay", "psn_part_amt"),
    )
    return [
        {"category": _concept(ADJUDICATION, code), "amount": _money(document[name])}
        for code, name in pairs
    ]


def _common(region: Region, document: dict[str, Any], use: str) -> dict[str, Any]:
    med_type = document["med_type"]
    common: dict[str, Any] = {
        "status": "active",
        "type": _concept(CLAIM_TYPE, TYPES[med_type]),
        "subType": _concept(MED_TYPE_SYSTEM, region.med_type_code(med_type), med_type),
        "use": use,
        "patient": {"reference": f"Patient/{document['psn_no']}"},
        "created": _now(),
        "insurer": INSURER,
        "outcome": "complete",
        "disposition": document["setl_proc_info"][-1],
        "processNote": [
            {"number": n, "type": "print", "text": line}
            for n, line in enumerate(document["setl_proc_info"], 1)
        ],
        "adjudication": _adjudication(region, document),
        "total": _totals(document),
    }
    if document.get("setl_id"):
        common["identifier"] = [{"system": SETTLEMENT_SYSTEM, "value": document["setl_id"]}]
    return common


def claim_response(
    region: Region, document: dict[str, Any], use: str, claim_key: str | None
) -> bytes:
    """A ``ClaimResponse`` of a settlement (``claim``) or a preview (``predetermination``)."""
    response = {"resourceType": "ClaimResponse", **_common(region, document, use)}
    if claim_key:
        response["request"] = {"identifier": {"value": claim_key}}
    return ClaimResponse.model_validate(response).model_dump_json().encode()


def explanation_of_benefit(region: Region, document: dict[str, Any], provider: str) -> bytes:
    """The ``ExplanationOfBenefit`` of a settlement (reversed: ``cancelled``)."""
    eob = {"resourceType": "ExplanationOfBenefit", **_common(region, document, "claim")}
    eob.update(
        id=document["setl_id"],
        provider={"identifier": {"value": provider}},
        insurance=[
            {"focal": True, "coverage": {"display": f"insurance {document['insurance_year']}"}}
        ],
    )
    if document.get("status") == "reversed":
        eob["status"] = "cancelled"
    return ExplanationOfBenefit.model_validate(eob).model_dump_json().encode()


def eligibility_response(coverage: dict[str, Any], purpose: list[str]) -> bytes:
    """A ``CoverageEligibilityResponse``: in force or not (with the §5 code), and each cap as
    the benefit allowed and used this year."""
    used = coverage["accumulators"]
    spent = {
        "basic": used["basic_paid"],
        "general_outpatient": used["general_outpatient_paid"],
        "accident_outpatient": used["accident_outpatient_paid"],
        "catastrophic": used["catastrophic_paid"],
    }
    items = []
    for cap, left in coverage["caps_remaining"].items():
        taken = Decimal(spent.get(cap, "0"))
        items.append(
            {
                "category": _concept(CAP_SYSTEM, cap),
                "benefit": [
                    {
                        "type": _concept(
                            "http://terminology.hl7.org/CodeSystem/benefit-type", "benefit"
                        ),
                        "allowedMoney": _money(taken + Decimal(left)),
                        "usedMoney": _money(taken),
                    }
                ],
            }
        )
    response: dict[str, Any] = {
        "resourceType": "CoverageEligibilityResponse",
        "status": "active",
        "purpose": purpose or ["benefits"],
        "patient": {"reference": f"Patient/{coverage['psn_no']}"},
        "servicedDate": coverage["date"],
        "created": _now(),
        "request": {"display": "CoverageEligibilityRequest"},
        "outcome": "complete",
        "insurer": INSURER,
        "insurance": [
            {
                "coverage": {"display": f"insurance {coverage['insurance_year']}"},
                "inforce": bool(coverage["eligible"]),
                "item": items,
            }
        ],
    }
    if not coverage["eligible"]:
        response["error"] = [{"code": _concept(CODE_SYSTEM, coverage["code"], coverage["message"])}]
    return CoverageEligibilityResponse.model_validate(response).model_dump_json().encode()


def operation_outcome(code: str, message: str) -> bytes:
    """A refusal: the stable code (SPEC §5, §6) and the message."""
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "invalid" if code.startswith("INVALID") else "processing",
                "details": _concept(CODE_SYSTEM, code, message),
                "diagnostics": f"{code}: {message}",
            }
        ],
    }
    return OperationOutcome.model_validate(outcome).model_dump_json().encode()


def capability_statement(region: Region) -> bytes:
    """What this server does (``GET /fhir/R4/metadata``)."""
    statement = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2024-01-01",
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "implementation": {"description": f"Resident medical insurance settlement ({region.name})"},
        "rest": [
            {
                "mode": "server",
                "security": {"description": "Authorization: Bearer <hospital key>"},
                "resource": [
                    {"type": "Claim", "operation": [{"name": "submit",
                     "definition": "http://hl7.org/fhir/OperationDefinition/Claim-submit"}]},
                    {"type": "CoverageEligibilityRequest", "interaction": [{"code": "create"}]},
                    {"type": "ExplanationOfBenefit", "interaction": [{"code": "read"}]},
                ],
            }
        ],
    }  # fmt: skip
    return CapabilityStatement.model_validate(statement).model_dump_json().encode()
