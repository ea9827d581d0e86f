"""The auth dependency, the login route and the audit route, on a tiny app over a real database.

Phase 2 puts ``require(action)`` on every enrollment route; here it guards two stand-in routes.
"""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, FastAPI

from services.enrollment.domain.staff import Action, Actor, Staff, new_staff
from services.enrollment.entrypoints.api import audit, auth, errors, session
from services.enrollment.entrypoints.api.auth import CurrentStaff, require
from services.enrollment.service_layer import staff as staff_service
from services.enrollment.settings import Settings
from shared import staff_tokens

pytestmark = pytest.mark.integration

OPERATOR = Actor("cli:ops", "system")
PASSWORD = "a long enough password"


def tiny_app(url: str, sessionmaker, keys: tuple | None) -> FastAPI:
    app = FastAPI()
    errors.install(app)
    auth.install(app)
    app.include_router(session.router)
    app.include_router(audit.router)

    @app.get("/whoami")
    async def whoami(staff: CurrentStaff) -> dict:
        return {"name": staff.name, "role": staff.role.value}

    @app.post("/register")
    async def register(staff: Annotated[Staff, Depends(require(Action.REGISTER))]) -> dict:
        return {"by": staff.name}

    private, public = keys or (None, None)
    app.state.settings = Settings(
        enrollment_database_url=url,
        staff_token_private_key_file=private,
        staff_token_public_key_file=public,
    )
    app.state.sessionmaker = sessionmaker
    return app


@pytest.fixture
def keys(tmp_path):
    return staff_tokens.ensure_key_pair(tmp_path / "keys")


@pytest.fixture
async def client(migrated_url, sessionmaker, keys):
    app = tiny_app(migrated_url, sessionmaker, keys)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as http:
        yield http


@pytest.fixture
async def staff(sessionmaker):
    """name → token for a town clerk (with a password), an auditor and an admin."""
    people = {
        "town1": (new_staff("town1", "town", organization="Dongchang street"), PASSWORD),
        "auditor1": (new_staff("auditor1", "auditor"), None),
        "admin": (new_staff("admin", "admin"), None),
    }
    return {
        name: await staff_service.add_staff(sessionmaker, who, actor=OPERATOR, password=password)
        for name, (who, password) in people.items()
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(client, name="town1", password=PASSWORD) -> httpx.Response:
    return await client.post("/api/v1/session", data={"username": name, "password": password})


def assert_refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code, response.text
    assert set(response.json()) == {"code", "message"}


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Basic dG93bjE6cHc=", "Bearer two words", "Bearer unknown-token"],
)
async def test_no_or_a_malformed_or_an_unknown_token_is_401(client, staff, header):
    headers = {"Authorization": header} if header is not None else {}
    response = await client.get("/whoami", headers=headers)
    assert_refused(response, 401, "UNAUTHENTICATED")
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_a_staff_token_is_its_owner(client, staff):
    response = await client.get("/whoami", headers=bearer(staff["town1"]))
    assert response.json() == {"name": "town1", "role": "town"}


async def test_a_disabled_member_is_refused_at_once(client, staff, sessionmaker):
    token = (await login(client)).json()["access_token"]
    await staff_service.disable_staff(sessionmaker, "town1", actor=OPERATOR)
    for credential in (staff["town1"], token):
        assert_refused(
            await client.get("/whoami", headers=bearer(credential)), 401, "UNAUTHENTICATED"
        )
    assert_refused(await login(client), 401, "UNAUTHENTICATED")
    assert "disabled" in (await login(client)).json()["message"]


async def test_the_role_table_decides_403(client, staff):
    allowed = await client.post("/register", headers=bearer(staff["town1"]))
    assert allowed.json() == {"by": "town1"}
    refused = await client.post("/register", headers=bearer(staff["auditor1"]))
    assert_refused(refused, 403, "FORBIDDEN")
    assert "auditor" in refused.json()["message"]


async def test_login_gives_a_short_lived_signed_token(client, staff):
    response = await login(client)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 900
    assert staff_tokens.is_access_token(body["access_token"])
    whoami = await client.get("/whoami", headers=bearer(body["access_token"]))
    assert whoami.json() == {"name": "town1", "role": "town"}


def _forgeries(token: str, keys) -> dict[str, str]:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    raw = json.dumps({**claims, "sub": "admin", "role": "admin"}).encode()
    tampered = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    none = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    private = staff_tokens.load_private_key(keys[0])
    past = datetime.now(UTC) - timedelta(minutes=20)
    return {
        "tampered": f"{header}.{tampered}.{signature}",
        "alg none": f"{none}.{tampered}.",
        "other key": staff_tokens.sign(Ed25519PrivateKey.generate(), "admin", "admin")[0],
        "expired": staff_tokens.sign(private, "town1", "town", now=past)[0],
    }


async def test_a_forged_or_expired_access_token_is_401(client, staff, keys):
    token = (await login(client)).json()["access_token"]
    for what, forged in _forgeries(token, keys).items():
        response = await client.get("/whoami", headers=bearer(forged))
        assert response.status_code == 401, (what, response.text)
        assert response.json()["code"] == "UNAUTHENTICATED"


async def test_a_wrong_password_or_an_unknown_name_is_401_alike(client, staff):
    wrong = await login(client, password="not the password")
    unknown = await login(client, name="nobody")
    no_password = await login(client, name="admin", password="anything at all")
    for response in (wrong, unknown, no_password):
        assert_refused(response, 401, "UNAUTHENTICATED")
        assert response.json()["message"] == "wrong name or password"


async def test_five_failed_logins_then_429_even_with_the_right_password(client, staff):
    for _ in range(5):
        assert (await login(client, password="wrong password!")).status_code == 401
    locked = await login(client)
    assert_refused(locked, 429, "TOO_MANY_ATTEMPTS")
    assert locked.headers["Retry-After"] == "300"
    # another name is not affected
    assert (await login(client, name="auditor1", password="x" * 12)).status_code == 401


async def test_concurrent_guesses_cannot_outrun_the_limit(client, staff):
    answers = await asyncio.gather(*(login(client, password=f"guess {i:04}") for i in range(10)))
    assert sorted(a.status_code for a in answers) == [401] * 5 + [429] * 5


async def test_a_success_resets_the_count_and_the_lock_ends_with_the_window(sessionmaker, staff):
    key = Ed25519PrivateKey.generate()
    t0 = datetime.now(UTC)

    async def attempt(password: str, at: datetime) -> str:
        try:
            await staff_service.login(sessionmaker, "town1", password, key, now=at)
        except Exception as exc:
            return exc.code  # type: ignore[attr-defined]
        return "ok"

    for i in range(4):
        assert await attempt("wrong password", t0 + timedelta(seconds=i)) == "UNAUTHENTICATED"
    assert await attempt(PASSWORD, t0 + timedelta(seconds=5)) == "ok"
    for i in range(5):
        assert await attempt("wrong password", t0 + timedelta(seconds=6 + i)) == "UNAUTHENTICATED"
    assert await attempt(PASSWORD, t0 + timedelta(seconds=20)) == "TOO_MANY_ATTEMPTS"
    assert await attempt(PASSWORD, t0 + timedelta(minutes=6)) == "ok"


async def test_login_without_a_signing_key_is_503(migrated_url, sessionmaker, staff):
    app = tiny_app(migrated_url, sessionmaker, None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as http:
        assert_refused(await login(http), 503, "LOGIN_UNAVAILABLE")
        # staff tokens still work without keys
        assert (await http.get("/whoami", headers=bearer(staff["town1"]))).status_code == 200


async def test_the_audit_log_is_for_admin_and_auditor(client, staff):
    await login(client)
    await login(client, password="wrong password!")
    for name in ("admin", "auditor1"):
        response = await client.get("/api/v1/audit", headers=bearer(staff[name]))
        assert response.status_code == 200, response.text
    assert_refused(
        await client.get("/api/v1/audit", headers=bearer(staff["town1"])), 403, "FORBIDDEN"
    )
    assert_refused(await client.get("/api/v1/audit"), 401, "UNAUTHENTICATED")

    rows = (
        await client.get("/api/v1/audit", params={"actor": "town1"}, headers=bearer(staff["admin"]))
    ).json()
    assert [(r["action"], r["role"], r["detail"]) for r in rows] == [
        ("session.created", "town", None),
        ("session.refused", "town", {"reason": "password"}),
    ]
    today = datetime.now(UTC).date()
    window = {"from": today.isoformat(), "to": today.isoformat()}
    everything = await client.get("/api/v1/audit", params=window, headers=bearer(staff["admin"]))
    assert len(everything.json()) == 5  # three staff added, two logins
    tomorrow = {"from": (today + timedelta(days=1)).isoformat()}
    assert (
        await client.get("/api/v1/audit", params=tomorrow, headers=bearer(staff["admin"]))
    ).json() == []
    bad = await client.get("/api/v1/audit", params={"from": "soon"}, headers=bearer(staff["admin"]))
    assert_refused(bad, 422, "INVALID_REQUEST")
    assert "from" in bad.json()["message"]
