"""The NHSA gateway (SPEC §9): ``POST /api/nhsa/v1`` in the national platform's envelope.

``install(app)`` is the one line the app factory needs: the fast path that serves the URL and
the route that documents it in the OpenAPI.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from starlette.middleware import Middleware

from services.settlement.entrypoints.api import deps
from services.settlement.entrypoints.nhsa.gateway import PATH, GatewayFastPath, gateway_of
from services.settlement.entrypoints.nhsa.handlers import HANDLERS
from shared.route_policy import POLICY_KEY

router = APIRouter(tags=["nhsa"])

_ENVELOPE: dict[str, Any] = {
    "type": "object",
    "required": ["infno", "msgid", "fixmedins_code", "input"],
    "properties": {"infno": {"type": "string", "enum": list(HANDLERS)}},
}


@router.post(
    PATH,
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": _ENVELOPE}}, "required": True},
        # It reads the hospital key itself (like the settle call), so it declares the policy.
        POLICY_KEY: deps.HOSPITAL_KEY.as_openapi(),
    },
)
async def nhsa(request: Request) -> Response:
    """The national platform's interface: 9001, 1101, 2303, 2304, 2305, 2601, 5203, 5206,
    3201, 3202 in its envelope; always HTTP 200, ``infcode`` 0 or −1 (docs/nhsa-gateway.md)."""
    body = await gateway_of(request.app).answer(
        request.headers.get("authorization"), await request.body()
    )
    return Response(body, media_type="application/json")


def install(app: FastAPI) -> None:
    """Serve the gateway on ``app``: the fast path ahead of the router, and the route."""
    # Innermost (next to the router), not outermost as add_middleware puts it: whatever the app
    # wraps its calls in (counting, limits), before or after this line, wraps the gateway's too.
    app.user_middleware.append(Middleware(GatewayFastPath))
    app.include_router(router)
