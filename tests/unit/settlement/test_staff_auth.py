"""Settlement's staff routes take enrollment's signed access tokens, verified with the public key
alone; hospital keys, staff tokens, foreign keys, tampering and expiry are refused with 401."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, Depends

from services.settlement.entrypoints.api.app import create_app
from services.settlement.entrypoints.api.staff_auth import OpsAction, require_staff, route_table
from services.settlement.settings import Settings
from shared import staff_tokens
from shared.staff_tokens import StaffClaims

pytestmark = pytest.mark.unit

ops = APIRouter(prefix="/api/v1/ops")


@ops.get("/figures")
async def figures(staff: Annotated[StaffClaims, Depends(require_staff(OpsAction.READ))]) -> dict:
    return {"by": staff.name, "role": staff.role}


@ops.post("/rerun")
async def rerun(staff: Annotated[StaffClaims, Depends(require_staff(OpsAction.MANAGE))]) -> dict:
    return {"by": staff.name}


@pytest.fixture
def keys(tmp_path):
    private, public = staff_tokens.ensure_key_pair(tmp_path)
    return staff_tokens.load_private_key(private), public


def app_with(public_key_file):
    app = create_app(Settings(staff_token_public_key_file=public_key_file))
    app.include_router(ops)
    return app


async def call(app, method: str, path: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://s") as http:
        return await http.request(method, path, headers=headers)


def signed(key, role: str, **kwargs) -> str:
    return staff_tokens.sign(key, f"someone.{role}", role, **kwargs)[0]


async def test_roles_of_the_settlement_table_pass_and_others_are_forbidden(keys):
    private, public = keys
    app = app_with(public)
    for role, read, manage in (
        ("admin", 200, 200),
        ("city", 200, 403),
        ("auditor", 200, 403),
        ("tax", 403, 403),
    ):
        token = signed(private, role)
        answer = await call(app, "GET", "/api/v1/ops/figures", token)
        assert answer.status_code == read, (role, answer.text)
        assert (await call(app, "POST", "/api/v1/ops/rerun", token)).status_code == manage
    town = signed(private, "town", scope={"organization": "Dongchang street"})
    forbidden = await call(app, "GET", "/api/v1/ops/figures", town)
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "FORBIDDEN"
    ok = await call(app, "GET", "/api/v1/ops/figures", signed(private, "auditor"))
    assert ok.json() == {"by": "someone.auditor", "role": "auditor"}


async def test_missing_malformed_foreign_tampered_and_expired_tokens_are_401(keys):
    private, public = keys
    app = app_with(public)
    good = signed(private, "admin")
    head, body, signature = good.split(".")
    tampered = f"{head}.{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{signature}"
    foreign = signed(Ed25519PrivateKey.generate(), "admin")
    expired = signed(private, "admin", now=datetime.now(UTC) - timedelta(hours=1))
    staff_token = "x" * 43  # an enrollment staff token: only its hash exists, over there
    for token in (None, "not a token", tampered, foreign, expired, staff_token):
        answer = await call(app, "GET", "/api/v1/ops/figures", token)
        assert answer.status_code == 401, (token, answer.text)
        assert answer.json()["code"] == "UNAUTHENTICATED"
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    malformed = await call_with_header(app, "Basic abc")
    assert malformed.status_code == 401


async def call_with_header(app, header: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://s") as http:
        return await http.get("/api/v1/ops/figures", headers={"Authorization": header})


async def test_without_a_public_key_every_staff_token_is_refused(keys):
    private, _ = keys
    answer = await call(app_with(None), "GET", "/api/v1/ops/figures", signed(private, "admin"))
    assert answer.status_code == 401 and "no verification key" in answer.json()["message"]


async def test_a_route_without_a_policy_is_refused_and_listed_undeclared(keys):
    private, public = keys
    app = app_with(public)
    loose = APIRouter()

    @loose.get("/api/v1/ops/loose")
    async def loose_route() -> dict:
        return {}

    app.include_router(loose)
    answer = await call(app, "GET", "/api/v1/ops/loose", signed(private, "admin"))
    assert answer.status_code == 403 and "no access policy" in answer.json()["message"]
    undeclared = [e.path for e in route_table(app) if e.policy is None]
    assert undeclared == ["/api/v1/ops/loose"]
