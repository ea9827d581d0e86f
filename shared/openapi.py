"""The OpenAPI document says what a service really answers, refusals included (SPEC §6).

``document_refusals(app, public)`` wraps ``app.openapi`` once the routes are in. Every operation
then documents each refusal it can answer, the body being ``ErrorPublic``:

* 401 for a route that needs a credential, 403 too for a staff route (its declared policy,
  ``shared.route_policy``, says which);
* 422 for a route that takes parameters or a body;
* every refusal a route declares itself (404, 409, 413, 429, 503 …: ``responses=`` on the route)
  without a body schema, and every validation error FastAPI documents its own way
  (``HTTPValidationError``, never sent: both services answer ``{"code", "message"}``).

A route that answers an error status with another body (``/healthz``'s 503, FHIR's
``OperationOutcome``) declares that body, and its own 401 and 422 where they are not the rule's.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from shared import route_policy
from shared.http_errors import ErrorPublic

ERROR_REF = {"$ref": "#/components/schemas/ErrorPublic"}
_FASTAPI_VALIDATION = "#/components/schemas/HTTPValidationError"

GENERIC: dict[int, str] = {
    401: "No credential, or an unknown, expired or disabled one (UNAUTHENTICATED).",
    403: "The caller's role may not do this (FORBIDDEN).",
    422: "Invalid request (INVALID_REQUEST, naming the field) or a rule refused it.",
}


def document_refusals(app: FastAPI, public: route_policy.Public) -> None:
    """Make ``app``'s OpenAPI document list every refusal of every operation (see above)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["ErrorPublic"] = ErrorPublic.model_json_schema()
        paths = schema.get("paths", {})
        for entry in route_policy.route_table(app, public):
            operation = paths.get(entry.path, {}).get(entry.method.lower())
            if operation is not None:
                _document(operation, entry.policy)
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document(operation: dict[str, Any], policy: route_policy.Policy | None) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    generic = []
    if policy is not None and policy.auth in ("staff", "hospital"):
        generic.append(401)
    if policy is not None and policy.auth == "staff":
        generic.append(403)
    if operation.get("parameters") or operation.get("requestBody"):
        generic.append(422)
    for status in generic:
        responses.setdefault(str(status), {"description": GENERIC[status]})
    for key, answer in responses.items():
        if not key.isdigit() or int(key) < 400:
            continue
        content = answer.get("content", {})
        schema = content.get("application/json", {}).get("schema", {})
        if not content or schema.get("$ref") == _FASTAPI_VALIDATION:
            answer["content"] = {"application/json": {"schema": ERROR_REF}}
        elif "application/json" in content and not schema:
            content["application/json"]["schema"] = ERROR_REF
        if answer.get("description") == "Validation Error":
            answer["description"] = GENERIC[422]
