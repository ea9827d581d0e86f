"""The whole role × route matrix, GENERATED from the app's route table and the role table
(SPEC §8): every role calls every route — 403 where the table says no, anything but 401/403 (and
never a 5xx) where it says yes; no token is 401 everywhere. Routes added later are picked up
as they land. The same run checks that no response and no log line carries a whole ID number
outside the allowed cases, and that a member outside a person's scope learns nothing of them
through any read route."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import httpx
import pytest

from services.enrollment.domain.staff import Role
from services.enrollment.entrypoints.api import auth
from services.enrollment.entrypoints.api.app import create_app
from services.enrollment.settings import Settings

from .staff_cast import IN_SCOPE, YEAR, Person

pytestmark = pytest.mark.integration

OWN_RECORD = {
    "/api/v1/persons",
    "/api/v1/persons/{psn_no}",
    "/api/v1/persons/{psn_no}/events",
    "/api/v1/persons/{psn_no}/identity",
    "/api/v1/persons/{psn_no}/death",
}
"""Routes answering a person's own record: whole ID number within scope (SPEC §8)."""


def _table() -> list[tuple[str, str, Any, dict[str, Any]]]:
    """(method, path, policy, OpenAPI operation) of every non-public route."""
    app = create_app(Settings())
    paths = app.openapi()["paths"]
    return [
        (e.method, e.path, e.policy, paths.get(e.path, {}).get(e.method.lower(), {}))
        for e in auth.route_table(app)
        if e.policy is None or e.policy.auth != "public"
    ]


def _value(name: str, schema: dict[str, Any], who: Person) -> Any:
    known = {
        "psn_no": who.psn_no,
        "certno": who.certno,
        "year": YEAR,
        "insurance_year": YEAR,
        "month": f"{date.today():%Y-%m}",
        "source": "civil_affairs",
        "organization": who.organization,
        "region": who.region,
        "format": "json",
    }
    if name in known:
        return known[name]
    return {"integer": 1, "boolean": "false", "number": 1}.get(schema.get("type", ""), "x")


def request_for(method: str, path: str, operation: dict[str, Any], who: Person) -> dict[str, Any]:
    """The URL, query and body that exercise ``path`` about ``who``."""
    url, query = path, {}
    for parameter in operation.get("parameters", []):
        value = _value(parameter["name"], parameter.get("schema", {}), who)
        if parameter["in"] == "path":
            url = url.replace("{" + parameter["name"] + "}", str(value))
        elif parameter["in"] == "query" and parameter.get("required"):
            query[parameter["name"]] = value
    body = {"json": {}} if method in {"POST", "PUT", "PATCH"} else {}
    return {"method": method, "url": url, "params": query, **body}


async def test_every_role_on_every_route_as_the_role_table_says(client, staff, people, caplog):
    caplog.set_level(logging.INFO)
    a, b = people
    table = _table()
    wrong: list[str] = []
    calls = 0
    for method, path, policy, operation in table:
        assert policy is not None, f"{method} {path} declares no policy"
        request = request_for(method, path, operation, a)
        anonymous = await client.request(**request, headers={"Authorization": ""})
        calls += 1
        if anonymous.status_code != 401:
            wrong.append(f"no token {method} {path}: {anonymous.status_code}")
        for role in Role:
            answer = await client.request(**request, headers=staff[IN_SCOPE[role]])
            calls += 1
            allowed = role.value in policy.roles
            got = answer.status_code
            if (allowed and (got in (401, 403) or got >= 500)) or (not allowed and got != 403):
                wrong.append(f"{role.value} {method} {path}: {got} {answer.text[:120]}")
            whole_ok = path in OWN_RECORD or (path == "/api/v1/basic-data" and role is Role.TAX)
            for person in (a, b):
                if person.certno in answer.text and not whole_ok:
                    wrong.append(f"{role.value} {method} {path}: whole ID number answered")
    assert wrong == [], "\n".join(wrong)
    assert calls == len(table) * (len(Role) + 1)
    print(f"role × route matrix: {len(table)} routes × {len(Role)} roles + no token = {calls}")
    # Every log line of the service (uvicorn's access log included); httpx is this test's client.
    logged = [r.getMessage() for r in caplog.records if not r.name.startswith("httpx")]
    assert any("uvicorn.access" == r.name for r in caplog.records)
    assert logged and not [m for m in logged for p in (a, b) if p.certno in m]


async def _scan(client, headers, outsider: Person, role: Role) -> list[str]:
    """Every read route the role may call, asked about ``outsider``: nothing of them comes back."""
    leaks = []
    for method, path, policy, operation in _table():
        if method != "GET" or role.value not in policy.roles:
            continue
        answer = await client.request(
            **request_for(method, path, operation, outsider), headers=headers
        )
        about_them = "{psn_no}" in path or "certno" in str(operation.get("parameters", []))
        if about_them and answer.status_code != 404:
            leaks.append(f"{path}: {answer.status_code}, not 404")
        if outsider.name in answer.text or (not about_them and outsider.psn_no in answer.text):
            leaks.append(f"{path}: answered {outsider.name} or their psn_no")
    return leaks


async def test_no_read_route_shows_a_person_outside_the_callers_scope(client, staff, people):
    a, b = people
    leaks = await _scan(client, staff["town"], b, Role.TOWN)  # town A asks after town B's
    leaks += await _scan(client, staff["town.b"], a, Role.TOWN)
    leaks += await _scan(client, staff["district.other"], a, Role.DISTRICT)  # 1101 after 3715's
    assert leaks == [], "\n".join(leaks)
    # and inside the scope the same routes do answer
    own = await client.get(f"/api/v1/persons/{a.psn_no}", headers=staff["town"])
    assert own.status_code == 200 and own.json()["certno"] == a.certno


async def test_an_anonymous_or_unknown_caller_learns_nothing_and_health_stays_open(client):
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer nope"}):
        answer = await client.get("/api/v1/persons/P1", headers=headers)
        assert answer.status_code == 401 and answer.json()["code"] == "UNAUTHENTICATED"
    async with httpx.AsyncClient(base_url=str(client.base_url)) as bare:
        assert (await bare.get("/healthz")).status_code == 200
        assert (await bare.get("/metrics")).status_code == 200
