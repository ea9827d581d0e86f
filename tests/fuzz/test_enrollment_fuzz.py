"""Fuzzed calls never break an enrollment call (issue 9).

Every route of the live OpenAPI document, as the admin: each parameter and body field in turn
set to each value that once broke a call (a sweep), then hypothesis' fuzzed calls per route
(nasty parameters, JSON bodies with nasty fields, bodies that are not JSON, garbage files); the
school-list upload with garbage files (random bytes, a CSV of 10,000 columns, a file named .xlsx
that is not one, an empty file); every route with an Authorization header that authenticates
nobody.

Every answer is below 500, every refusal a JSON ``{"code", "message"}``, no connection dropped
(one keep-alive client: a connection the server closed fails the next call), no error logged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.fuzz import calls
from tests.fuzz.calls import GARBAGE_FILES, garbage_file, request_for, send
from tests.fuzz.values import FUZZ, check_answer, garbage_authorization, header

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def operations(enrollment) -> list[calls.Operation]:
    return calls.operations(enrollment.url)


@pytest.fixture
def http(enrollment) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=enrollment.url, timeout=60) as client:
        yield client


def test_no_parameter_or_field_of_any_route_breaks_on_a_value_that_once_broke_one(
    enrollment, operations, server_errors, http
):
    failures = []
    for _, request in calls.sweep(operations, enrollment.extra["psn_no"]):
        try:
            check_answer(send(http, request, enrollment.headers), server_errors)
        except AssertionError as failure:
            failures.append(str(failure).splitlines()[0])
    assert not failures, "\n".join(failures)


def test_every_route_answers_fuzzed_calls_or_refuses_them_with_a_code(
    enrollment, operations, server_errors, http
):
    failures = []
    for operation in operations:

        @settings(FUZZ, max_examples=25)
        @given(request=request_for(operation, enrollment.extra["psn_no"]))
        def answered(request: dict[str, Any]) -> None:
            check_answer(send(http, request, enrollment.headers), server_errors)

        try:
            answered()
        except (AssertionError, httpx.TransportError) as failure:
            failures.append(f"{operation[0]} {operation[1]}: {failure}")
    assert not failures, "\n\n".join(failures)


@settings(FUZZ, max_examples=60)
@given(upload=garbage_file(), year=st.sampled_from(["2024", "2025", "0", "x"]), raw=st.booleans())
@example(upload=GARBAGE_FILES[1], year="2024", raw=False)  # 10,000 columns
@example(upload=GARBAGE_FILES[2], year="2024", raw=False)  # .xlsx, not one
@example(upload=GARBAGE_FILES[0], year="2024", raw=False)  # empty
@example(upload=GARBAGE_FILES[0], year="2024", raw=True)
def test_the_school_list_upload_refuses_garbage_files_with_a_code(
    enrollment, server_errors, http, upload, year, raw
):
    request: dict[str, Any] = {"content": upload[1]} if raw else {"files": {"file": upload}}
    response = http.post(
        "/api/v1/persons/batch", params={"year": year}, headers=enrollment.headers, **request
    )
    check_answer(response, server_errors)


@settings(FUZZ, max_examples=150)
@given(data=st.data(), authorization=garbage_authorization)
def test_an_authorization_that_authenticates_nobody_is_401_everywhere(
    enrollment, operations, server_errors, http, data, authorization
):
    operation = data.draw(st.sampled_from(operations))
    request = data.draw(request_for(operation, enrollment.extra["psn_no"]))
    response = send(http, request, {"Authorization": header(authorization)})
    check_answer(response, server_errors)
    # FastAPI reads a JSON or form body before the dependencies run: a broken one is 422 first.
    bodiless = not any(key in request for key in ("content", "data", "files"))
    # An empty path segment is another route (/persons/ redirects to /persons) or none at all.
    routed = not response.is_redirect and not (
        response.status_code == 404 and response.json()["code"] == "NOT_FOUND"
    )
    if operation[2].get("x-policy", {}).get("auth") == "staff" and bodiless and routed:
        assert response.status_code == 401, (operation[:2], response.text)
        assert response.json()["code"] == "UNAUTHENTICATED"


def test_an_unknown_route_and_an_unsupported_method_are_coded(enrollment, server_errors, http):
    for method, path, status, code in [
        ("GET", "/api/v1/nothing-here", 404, "NOT_FOUND"),
        ("DELETE", "/api/v1/persons", 405, "METHOD_NOT_ALLOWED"),
        ("PUT", "/healthz", 405, "METHOD_NOT_ALLOWED"),
    ]:
        response = http.request(method, path, headers=enrollment.headers)
        assert (response.status_code, response.json()["code"]) == (status, code)
        check_answer(response, server_errors)
    assert re.fullmatch(r"GET(, HEAD)?", http.put("/healthz").headers["allow"])
