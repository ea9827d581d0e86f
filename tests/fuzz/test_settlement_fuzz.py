"""Fuzzed calls never break a settlement call (issue 9).

The claim routes (settle, on the ASGI fast path, and preview) take claims with 1–3 fields set to
null, lists, objects, 10**30, 1e308, "NaN", a NUL, long strings, and bodies that are not JSON at
all, with odd headers. Every route of the live OpenAPI document (the HIS API, the NHSA gateway,
FHIR, the staff routes) gets each parameter and each leaf of a good body set in turn to each
value that once broke a call, then hypothesis' fuzzed calls; nasty paths and methods too.

Every answer is below 500, every refusal a JSON ``{"code", "message"}`` (FHIR's an
OperationOutcome carrying it, SPEC §9), no connection is dropped (one keep-alive client: a
connection the server closed fails the next call) and the server logs no error.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz import calls
from tests.fuzz.calls import request_for, send
from tests.fuzz.values import (
    CONTENT_TYPES,
    FUZZ,
    NASTY_STRINGS,
    bodies,
    check_answer,
    garbage_authorization,
    header,
    header_text,
)
from tests.support.sample_events import certno, claim

pytestmark = pytest.mark.e2e


@pytest.fixture
def http(settlement) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=settlement.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def operations(settlement) -> list[calls.Operation]:
    return calls.operations(settlement.url)


def caller(settlement, operation: calls.Operation) -> dict[str, str]:
    """The headers of the operation's usual caller (``x-policy``): a hospital or a staff member."""
    auth = operation[2].get("x-policy", {}).get("auth")
    return {"hospital": settlement.headers, "staff": settlement.extra["staff"]}.get(auth, {})


def nhsa(infno: str, data: dict[str, Any]) -> dict[str, Any]:
    """An NHSA envelope (SPEC §9) from hospital H3."""
    return {
        "infno": infno,
        "msgid": f"H3{uuid.uuid4().hex[:24]}",
        "fixmedins_code": "H3",
        "opter": "001",
        "inf_time": "2024-03-10 10:00:00",
        "input": {"data": data},
    }


def known_bodies(psn_no: str) -> dict[str, Any]:
    """A good body of each route that takes one: by its schema's name or its path."""
    nhsa_claim = {
        **claim(psn_no),
        "med_type": "21",
        "medfee_sumamt": 20000,
        "begntime": "2024-03-01 08:00:00",
    }
    patient = {"reference": f"Patient/{psn_no}"}
    eligibility = {
        "resourceType": "CoverageEligibilityRequest",
        "status": "active",
        "purpose": ["benefits"],
        "patient": patient,
        "servicedDate": "2024-03-01",
        "created": "2024-03-01T08:00:00+08:00",
        "insurer": {"display": "resident insurance"},
    }
    fhir_claim = {
        "resourceType": "Claim",
        "identifier": [{"system": "urn:his:claim", "value": uuid.uuid4().hex}],
        "status": "active",
        "type": {"coding": [{"code": "institutional"}]},
        "subType": {"coding": [{"code": "21"}]},
        "use": "predetermination",
        "patient": patient,
        "billablePeriod": {"start": "2024-03-01T08:00:00+08:00", "end": "2024-03-10"},
        "created": "2024-03-10T10:00:00+08:00",
        "provider": {"identifier": {"value": "H3"}},
        "priority": {"coding": [{"code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "390"}}],
        "item": [{"sequence": 1, "productOrService": {"text": "stay"}}],
        "total": {"value": 20000.0, "currency": "CNY"},
    }
    return {
        "Claim": claim(psn_no),
        "/api/nhsa/v1": [
            nhsa("1101", {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno(1)}),
            nhsa("2303", nhsa_claim),
            nhsa("5203", {"psn_no": psn_no, "setl_id": "S1", "mdtrt_id": "V1"}),
            nhsa("5206", {"psn_no": psn_no, "cum_ym": "202403"}),
            nhsa("2601", {"psn_no": psn_no, "omsgid": "H3x", "oinfno": "2304"}),
        ],
        "/fhir/R4/Claim/$submit": fhir_claim,
        "/fhir/R4/CoverageEligibilityRequest": eligibility,
    }


def test_no_parameter_or_field_of_any_route_breaks_on_a_value_that_once_broke_one(
    settlement, operations, server_errors, http
):
    good = known_bodies(settlement.extra["psn_no"])
    failures = []
    for operation, request in calls.sweep(operations, settlement.extra["psn_no"], good):
        headers = {**caller(settlement, operation), "Idempotency-Key": uuid.uuid4().hex}
        try:
            check_answer(send(http, request, headers), server_errors)
        except AssertionError as failure:
            failures.append(str(failure).splitlines()[0])
    assert not failures, "\n".join(failures)


def test_every_route_answers_fuzzed_calls_or_refuses_them_with_a_code(
    settlement, operations, server_errors, http
):
    good = known_bodies(settlement.extra["psn_no"])
    failures = []
    for operation in operations:
        headers = caller(settlement, operation)

        @settings(FUZZ, max_examples=25)
        @given(request=request_for(operation, settlement.extra["psn_no"], good))
        def answered(request: dict[str, Any]) -> None:
            check_answer(send(http, request, headers), server_errors)

        try:
            answered()
        except (AssertionError, httpx.TransportError) as failure:
            failures.append(f"{operation[0]} {operation[1]}: {failure}")
    assert not failures, "\n\n".join(failures)


@st.composite
def claim_headers(draw: st.DrawFn, authorization: str) -> dict[str, bytes]:
    headers = {"Authorization": header(authorization)}
    if draw(st.integers(0, 9)) == 0:
        headers["Authorization"] = header(draw(garbage_authorization))
    content_type = draw(st.sampled_from([*CONTENT_TYPES, None]))
    if content_type is not None:
        headers["Content-Type"] = header(content_type)
    key = draw(
        st.one_of(
            st.just(uuid.uuid4().hex),
            st.sampled_from(["", "k" * 256, "k" * 10_000, "é", "a b"]),
            header_text,
            st.none(),
        )
    )
    if key is not None:
        headers["Idempotency-Key"] = header(key)
    return headers


@settings(FUZZ, max_examples=600)
@given(data=st.data())
def test_fuzzed_claims_are_answered_or_refused_never_broken(settlement, server_errors, http, data):
    base = claim(settlement.extra["psn_no"], med_type="accident_outpatient", total="200.00")
    base["mdtrt_id"] = uuid.uuid4().hex  # a good claim settles; a retry of it is a replay
    path = data.draw(st.sampled_from(["/api/v1/settlements", "/api/v1/settlements/preview"]))
    body = data.draw(bodies(base))
    headers = data.draw(claim_headers(settlement.headers["Authorization"]))
    check_answer(http.post(path, content=body, headers=headers), server_errors)


nasty_segments = st.one_of(
    st.sampled_from(NASTY_STRINGS[:-1]), st.text(min_size=1, max_size=30)
).map(calls.url_value)


@settings(FUZZ, max_examples=150)
@given(data=st.data())
def test_nasty_paths_queries_and_methods_are_refused_with_a_code(
    settlement, server_errors, http, data
):
    segment = data.draw(nasty_segments)
    query = data.draw(nasty_segments)
    method, path = data.draw(
        st.sampled_from(
            [
                ("GET", f"/api/v1/persons/{segment}/coverage?date={query}"),
                ("GET", f"/api/v1/coverage?certno={segment}&date={query}"),
                ("GET", f"/api/v1/coverage?certno={segment}"),
                ("GET", f"/api/v1/settlements/{segment}"),
                ("POST", f"/api/v1/settlements/{segment}/reverse"),
                ("GET", f"/api/v1/{segment}"),
                ("DELETE", "/api/v1/settlements"),
                ("PUT", "/api/v1/settlements/preview"),
                ("GET", "/api/v1/settlements"),
                ("PATCH", f"/api/v1/settlements/{segment}"),
            ]
        )
    )
    headers = dict(settlement.headers)
    if data.draw(st.booleans()):
        headers["Authorization"] = data.draw(garbage_authorization).encode("latin-1")
    check_answer(http.request(method, path, headers=headers), server_errors)
