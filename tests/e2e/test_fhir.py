"""FHIR R4 over real HTTP (SPEC §9): metadata, eligibility, Claim/$submit (predetermination and
claim), ExplanationOfBenefit, OperationOutcome refusals; every answer validated."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.claimresponse import ClaimResponse
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse
from fhir.resources.R4B.explanationofbenefit import ExplanationOfBenefit
from fhir.resources.R4B.operationoutcome import OperationOutcome

from tests.e2e.nhsa_stack import Stack, running_stack

pytestmark = pytest.mark.e2e
FHIR = "application/fhir+json"
SYSTEM = "urn:resident-medical-insurance"


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    yield from running_stack(tmp_path_factory.mktemp("fhir"))


def fhir_claim(
    psn_no: str,
    *,
    use: str = "claim",
    key: str | None = None,
    med_type: str = "21",
    total: str = "20000.00",
    wholly: str = "1000.00",
    class_b: str = "500.00",
    visit: str | None = None,
    dise_codg: str = "K35.8",
    start: str = "2024-03-01T08:00:00+08:00",
    end: str = "2024-03-10T10:00:00+08:00",
) -> dict[str, Any]:
    """Worked example 1 of SPEC §5 as a FHIR R4 Claim."""

    def amount(code: str, value: str, sequence: int) -> dict[str, Any]:
        return {
            "sequence": sequence,
            "category": {"coding": [{"system": f"{SYSTEM}:amount", "code": code}]},
            "valueQuantity": {"value": float(value), "unit": "CNY",
                              "system": "urn:iso:std:iso:4217", "code": "CNY"},
        }  # fmt: skip

    return {
        "resourceType": "Claim",
        "identifier": [{"system": "urn:his:claim", "value": key or uuid.uuid4().hex}],
        "status": "active",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type",
                             "code": "institutional"}]},
        "subType": {"coding": [{"system": f"{SYSTEM}:med_type", "code": med_type}]},
        "use": use,
        "patient": {"reference": f"Patient/{psn_no}"},
        "billablePeriod": {"start": start, "end": end},
        "created": "2024-03-10T10:00:00+08:00",
        "provider": {"identifier": {"value": "H3"}},
        "priority": {"coding": [{"code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "390"}}],
        "diagnosis": [{"sequence": 1, "diagnosisCodeableConcept": {"coding": [
            {"system": "http://hl7.org/fhir/sid/icd-10", "code": dise_codg}]}}],
        "supportingInfo": [amount("fulamt_ownpay_amt", wholly, 1),
                           amount("preselfpay_amt", class_b, 2)],
        "item": [{"sequence": 1, "productOrService": {"text": "stay"},
                  "encounter": [{"reference": f"Encounter/{visit or uuid.uuid4().hex[:12]}"}]}],
        "total": {"value": float(total), "currency": "CNY"},
    }  # fmt: skip


def adjudication(resource: Any) -> dict[tuple[str, str | None], float]:
    """(category, fund code or None) → amount."""
    out = {}
    for row in resource.adjudication:
        reason = row.reason.coding[0].code if row.reason else None
        out[(row.category.coding[0].code, reason)] = float(row.amount.value)
    return out


def test_metadata_is_a_capability_statement(stack):
    with stack.http("none") as anyone:
        answer = anyone.get("/fhir/R4/metadata")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith(FHIR)
    statement = CapabilityStatement.model_validate_json(answer.content)
    assert statement.fhirVersion == "4.0.1"
    assert {r.type for r in statement.rest[0].resource} >= {"Claim", "ExplanationOfBenefit"}


def test_eligibility(stack):
    psn = stack.person()
    request = {
        "resourceType": "CoverageEligibilityRequest", "status": "active",
        "purpose": ["benefits"], "patient": {"reference": f"Patient/{psn}"},
        "servicedDate": "2024-03-01", "created": "2024-03-01T08:00:00+08:00",
        "insurer": {"display": "resident insurance"},
    }  # fmt: skip
    with stack.http() as his:
        answer = his.post("/fhir/R4/CoverageEligibilityRequest", json=request)
        unpaid = his.post(
            "/fhir/R4/CoverageEligibilityRequest/$submit",
            json={**request, "patient": {"reference": f"Patient/{stack.special['unpaid']}"}},
        )
        nobody = his.post(
            "/fhir/R4/CoverageEligibilityRequest",
            json={**request, "patient": {"reference": "Patient/P-nobody"}},
        )
    response = CoverageEligibilityResponse.model_validate_json(answer.content)
    insurance = response.insurance[0]
    assert insurance.inforce is True
    caps = {i.category.coding[0].code: i.benefit[0] for i in insurance.item}
    assert float(caps["basic"].allowedMoney.value) == 120000
    refused = CoverageEligibilityResponse.model_validate_json(unpaid.content)
    assert refused.insurance[0].inforce is False
    assert refused.error[0].code.coding[0].code == "PREMIUM_UNPAID"
    assert nobody.status_code == 404
    outcome = OperationOutcome.model_validate_json(nobody.content)
    assert outcome.issue[0].details.coding[0].code == "UNKNOWN_PERSON"


def test_predetermination_then_claim_then_explanation_of_benefit(stack):
    psn = stack.person()
    with stack.http(**{"Accept-Language": "zh-CN,zh;q=0.9"}) as his:
        preview = his.post("/fhir/R4/Claim/$submit", json=fhir_claim(psn, use="predetermination"))
        assert preview.status_code == 200, preview.text
        previewed = ClaimResponse.model_validate_json(preview.content)
        assert previewed.use == "predetermination" and previewed.identifier is None
        assert adjudication(previewed)[("benefit", "390100")] == 10560.00

        body = fhir_claim(psn, key="his-claim-1")
        settled = his.post("/fhir/R4/Claim/$submit", json=body)
        response = ClaimResponse.model_validate_json(settled.content)
        amounts = adjudication(response)
        assert amounts[("submitted", None)] == 20000 and amounts[("eligible", None)] == 18500
        assert amounts[("deductible", None)] == 900 and amounts[("copay", None)] == 9440
        assert amounts[("benefit", "390200")] == 0 and amounts[("benefit", "610100")] == 0
        assert response.processNote[0].text.startswith("政策范围内费用")
        setl_id = response.identifier[0].value

        again = his.post("/fhir/R4/Claim/$submit", json=body)
        assert again.headers.get("idempotent-replayed") == "true"
        assert ClaimResponse.model_validate_json(again.content).identifier[0].value == setl_id

        eob = his.get(f"/fhir/R4/ExplanationOfBenefit/{setl_id}")
        explained = ExplanationOfBenefit.model_validate_json(eob.content)
        assert explained.id == setl_id and explained.status == "active"
        assert adjudication(explained)[("benefit", "390100")] == 10560
        his.post(f"/api/v1/settlements/{setl_id}/reverse")
        reversed_ = ExplanationOfBenefit.model_validate_json(
            his.get(f"/fhir/R4/ExplanationOfBenefit/{setl_id}").content
        )
        assert reversed_.status == "cancelled"


def test_refusals_are_operation_outcomes(stack):
    psn = stack.person()
    with stack.http() as his:
        cases = [
            (his.post("/fhir/R4/Claim/$submit", content=b"{}"), 400, "INVALID_RESOURCE"),
            (his.post("/fhir/R4/Claim/$submit", json={"resourceType": "Claim", "status": 7}),
             400, "INVALID_RESOURCE"),
            (his.post("/fhir/R4/Claim/$submit", json=fhir_claim(psn, med_type="11")),
             422, "NOT_PRIMARY_CARE"),
            (his.post("/fhir/R4/Claim/$submit", json=fhir_claim(psn, dise_codg="J10",
                                                               med_type="14")),
             422, "DISEASE_NOT_COVERED"),
            (his.get("/fhir/R4/ExplanationOfBenefit/S-nothing"), 404, "SETTLEMENT_NOT_FOUND"),
        ]  # fmt: skip
        no_key = fhir_claim(psn)
        no_key["identifier"] = []
        del no_key["identifier"]
        cases.append(
            (his.post("/fhir/R4/Claim/$submit", json=no_key), 422, "IDEMPOTENCY_KEY_REQUIRED")
        )
        nul_key = fhir_claim(psn, key="K\x00")  # valid FHIR, but no ledger holds a NUL
        cases.append((his.post("/fhir/R4/Claim/$submit", json=nul_key), 422, "INVALID_REQUEST"))
    with stack.http("none") as stranger:
        cases.append((stranger.post("/fhir/R4/Claim/$submit", json=fhir_claim(psn)), 401,
                      "UNAUTHENTICATED"))  # fmt: skip
    for answer, status, code in cases:
        assert answer.status_code == status, (code, answer.text)
        outcome = OperationOutcome.model_validate_json(answer.content)
        assert outcome.issue[0].details.coding[0].code == code


def test_the_test_claim_is_a_valid_r4_claim():
    assert Claim.model_validate(fhir_claim("P1")).use == "claim"
