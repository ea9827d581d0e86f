"""The settlement OpenAPI document says what the HIS API takes and answers.

The claim routes read their body themselves (the refusal codes of SPEC §5 come from the engine's
``parse_claim``, not from FastAPI), so the claim's schema is added here, from the engine's
``Claim`` model; ``shared.openapi`` documents every refusal of every operation.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from services.settlement.engine import Claim
from services.settlement.entrypoints.api.staff_auth import PUBLIC_ROUTES
from shared.openapi import document_refusals


def install(app: FastAPI) -> None:
    """Complete ``app``'s OpenAPI document: the claim body's schema, every refusal."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        claim = Claim.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(claim.pop("$defs", {}))
        components["Claim"] = claim
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    document_refusals(app, PUBLIC_ROUTES)
