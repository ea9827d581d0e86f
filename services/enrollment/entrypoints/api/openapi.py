"""The OpenAPI document says what the service really answers: every 422 is ``ErrorPublic``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from services.enrollment.entrypoints.api.schemas import ErrorPublic

_ERROR_REF = {"$ref": "#/components/schemas/ErrorPublic"}


def install(app: FastAPI) -> None:
    """Replace FastAPI's default validation-error schema (never sent: errors.py maps it)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["ErrorPublic"] = ErrorPublic.model_json_schema()
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                answer = operation.get("responses", {}).get("422")
                if answer is None:
                    continue
                answer["content"] = {"application/json": {"schema": _ERROR_REF}}
                if answer.get("description") == "Validation Error":
                    answer["description"] = (
                        "Invalid request (code INVALID_REQUEST) or a rule refused it."
                    )
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
