"""schemathesis against both services' ``/openapi.json``, over HTTP (issue 9).

For every operation of the live document, cases that schemathesis generates from it (valid ones
and invalid ones, a bounded number of each) are sent to the live server as the operation's
caller (``x-policy``: the hospital's key, a staff token, or nobody). Every answer must be no
server error, a status the operation documents, with the content type and the body schema it
documents; and every operation must be one a generator can build a request for.

The operations are walked here rather than through ``schemathesis.pytest.from_fixture``, whose
lazy loader does not run under pytest 9 (it reads a private attribute pytest no longer has).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.servers import ServerErrors

pytestmark = pytest.mark.e2e

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CASES = settings(
    max_examples=10,  # per operation and mode: bounded, the whole file in about a minute
    deadline=None,
    derandomize=True,  # the same cases every run: a failure here is reproducible as it is
    database=None,
    suppress_health_check=list(HealthCheck),
)


def findings(
    url: str, headers_for: Callable[[dict[str, Any]], dict[str, str]], errors: ServerErrors
) -> list[str]:
    """What schemathesis finds, operation by operation (an empty list: nothing)."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    found = []
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            found.append(f"schema error: {result.err()}")
            continue
        operation = result.ok()
        headers = headers_for(operation.definition.raw.get("x-policy", {}))
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                exercise(operation, mode, headers, errors)
            except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                assert mode is GenerationMode.NEGATIVE, operation.label
            # Every operation is tried and all failures reported (schemathesis groups its own).
            except (Exception, BaseExceptionGroup) as failure:
                found.append(f"{operation.label} ({mode.value}): {failure}")
    return found


def exercise(operation: Any, mode: GenerationMode, headers: dict[str, str], errors: ServerErrors):
    """Send ``operation``'s generated cases; raise on the first answer that breaks a check."""

    @CASES
    @given(case=operation.as_strategy(generation_mode=mode))
    def answers_as_documented(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS, timeout=60)
        logged = errors.take()
        assert not logged, "the server logged:\n" + "\n".join(logged)

    answers_as_documented()


def test_the_settlement_api_answers_as_its_openapi_document_says(settlement, server_errors):
    callers = {"hospital": settlement.headers, "staff": settlement.extra["staff"]}

    def headers_for(policy: dict[str, Any]) -> dict[str, str]:
        return callers.get(policy.get("auth", "public"), {})

    found = findings(settlement.url, headers_for, server_errors)
    assert not found, "\n\n".join(found)


def test_the_enrollment_api_answers_as_its_openapi_document_says(enrollment, server_errors):
    def headers_for(policy: dict[str, Any]) -> dict[str, str]:
        return enrollment.headers if policy.get("auth") == "staff" else {}

    found = findings(enrollment.url, headers_for, server_errors)
    assert not found, "\n\n".join(found)
