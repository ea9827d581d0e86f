"""The REST API over real HTTP (uvicorn on a free port), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from datetime import date

import pytest

from shared.certno import check_character

pytestmark = pytest.mark.integration

CERTNO = "11010519491231002X"


def certno(n: int) -> str:
    first17 = f"37150220100101{n:03d}"
    return first17 + check_character(first17)


def body(**overrides):
    return {
        "certno": CERTNO,
        "name": "王芳",
        "category": "student",
        "region": "371502",
        "organization": "聊城一中",
        "insurance_year": 2024,
        **overrides,
    }


async def register(client, **overrides):
    return await client.post("/api/v1/persons", json=body(**overrides))


async def test_register_returns_201_then_200_with_the_same_person(client):
    first = await register(client, certno=CERTNO.lower())
    assert first.status_code == 201, first.text
    person = first.json()
    assert person["psn_no"].startswith("P") and person["created"] is True
    assert person["certno"] == CERTNO
    assert person["gender"] == "female" and person["birth_date"] == "1949-12-31"
    [year] = person["years"]
    assert (
        year.items()
        >= {
            "insurance_year": 2024,
            "category": "student",
            "identity": "ordinary",
            "medical_assistance": False,
            "region": "371502",
            "organization": "聊城一中",
            "premium_due": "360.00",
            "premium_paid": "0.00",
            "subsidised": "0.00",
            "covered": False,
        }.items()
    )
    again = await register(client, name="someone else")
    assert again.status_code == 200
    assert again.json()["psn_no"] == person["psn_no"] and again.json()["created"] is False
    assert again.json()["name"] == "王芳"


async def test_concurrent_registrations_of_one_certno_make_one_person(client):
    answers = await asyncio.gather(*(register(client, certno=certno(7)) for _ in range(8)))
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201]
    assert len({a.json()["psn_no"] for a in answers}) == 1


async def test_read_by_psn_no_by_certno_and_the_event_stream(client):
    psn_no = (await register(client)).json()["psn_no"]
    assert (await client.get(f"/api/v1/persons/{psn_no}")).json()["psn_no"] == psn_no
    found = await client.get("/api/v1/persons", params={"certno": CERTNO.lower()})
    assert found.status_code == 200 and found.json()["psn_no"] == psn_no
    [event] = (await client.get(f"/api/v1/persons/{psn_no}/events")).json()
    assert event["event_type"] == "registered"
    assert event["stream_version"] == 1 and event["schema_version"] == 1
    assert event["psn_no"] == psn_no
    assert {"event_id", "occurred_at", "recorded_at"} <= event.keys()
    assert event["payload"]["premium_due"] == "360.00"


async def test_unknown_person_is_404_with_a_code(client):
    for path in ("/api/v1/persons/PNOBODY", "/api/v1/persons/PNOBODY/events"):
        answer = await client.get(path)
        assert answer.status_code == 404
        assert answer.json()["code"] == "PERSON_NOT_FOUND"
    answer = await client.get("/api/v1/persons", params={"certno": certno(3)})
    assert answer.status_code == 404
    assert certno(3) not in answer.text
    answer = await client.post(
        "/api/v1/persons/PNOBODY/death", json={"date_of_death": "2024-01-01"}
    )
    assert answer.status_code == 404


@pytest.mark.parametrize(
    ("overrides", "code", "words"),
    [
        ({"name": None}, "INVALID_REQUEST", "name"),
        ({"region": "3715"}, "INVALID_REQUEST", "region"),
        ({"category": "pensioner"}, "INVALID_REQUEST", "category"),
        ({"insurance_year": "soon"}, "INVALID_REQUEST", "insurance_year"),
        ({"colour": "blue"}, "INVALID_REQUEST", "colour"),
        ({"certno": "110105194912310021"}, "INVALID_CERTNO", "check character"),
        ({"certno": "11010519491231002"}, "INVALID_CERTNO", "18 characters"),
        ({"certno": "110105202302300011"}, "INVALID_CERTNO", "birth date"),
        ({"insurance_year": 2019}, "NO_PREMIUM_RULES", "2019"),
    ],
)
async def test_bad_input_is_422_with_a_message_that_says_what_is_wrong(
    client, overrides, code, words
):
    payload = body(**overrides)
    payload = {k: v for k, v in payload.items() if v is not None}
    answer = await client.post("/api/v1/persons", json=payload)
    assert answer.status_code == 422, answer.text
    error = answer.json()
    assert error["code"] == code
    assert words in error["message"]
    assert "110105194912310021" not in error["message"]


async def test_identity_change_to_destitute_zeroes_the_premium_with_an_event(client):
    # the change takes effect this month, so it alters this year's premium (rules up to 2027)
    psn_no = (await register(client, insurance_year=date.today().year)).json()["psn_no"]
    answer = await client.post(
        f"/api/v1/persons/{psn_no}/identity",
        json={"identity": "destitute", "medical_assistance": True, "reason": "民政名单"},
    )
    assert answer.status_code == 200, answer.text
    person = answer.json()
    assert person["identity"] == "destitute"
    assert person["years"][0]["premium_due"] == "0.00" and person["years"][0]["covered"]
    assert (
        person["identity_timeline"][-1]["effective_from"] == date.today().replace(day=1).isoformat()
    )
    types = [e["event_type"] for e in (await client.get(f"/api/v1/persons/{psn_no}/events")).json()]
    assert types == ["registered", "identity-changed", "premium-due-changed"]


async def test_a_stale_expected_version_is_409(client):
    psn_no = (await register(client)).json()["psn_no"]
    answer = await client.post(
        f"/api/v1/persons/{psn_no}/identity",
        json={
            "identity": "orphan",
            "medical_assistance": False,
            "reason": "x",
            "expected_version": 0,
        },
    )
    assert answer.status_code == 409
    assert answer.json()["code"] == "VERSION_CONFLICT"


async def test_death_deadline_extension_and_nothing_else_afterwards(client):
    psn_no = (await register(client)).json()["psn_no"]
    death = f"/api/v1/persons/{psn_no}/death"
    answer = await client.post(death, json={"date_of_death": "2024-01-31"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["settlement_deadline"] == "2024-02-29"
    answer = await client.post(
        death, json={"date_of_death": "2024-01-31", "settlement_deadline": "2024-04-30"}
    )
    assert answer.json()["settlement_deadline"] == "2024-04-30"
    answer = await client.post(
        death, json={"date_of_death": "2024-01-31", "settlement_deadline": "2024-05-01"}
    )
    assert (answer.status_code, answer.json()["code"]) == (422, "DEADLINE_BEYOND_LIMIT")
    answer = await client.post(
        f"/api/v1/persons/{psn_no}/identity",
        json={"identity": "orphan", "medical_assistance": False, "reason": "x"},
    )
    assert (answer.status_code, answer.json()["code"]) == (422, "ALREADY_DECEASED")
    answer = await register(client, insurance_year=2025)
    assert (answer.status_code, answer.json()["code"]) == (422, "ALREADY_DECEASED")


async def test_healthz_and_metrics(client):
    await register(client)
    health = await client.get("/healthz")
    assert health.status_code == 200 and health.json()["database"] == "ok"
    text = (await client.get("/metrics")).text
    for name in (
        "enrollment_events_appended_total",
        "enrollment_events_published_total",
        "enrollment_relay_lag_messages",
        "enrollment_relay_lag_seconds",
    ):
        assert name in text


async def test_every_schema_field_is_documented(client):
    schema = (await client.get("/openapi.json")).json()
    schemas = schema["components"]["schemas"]
    assert "HTTPValidationError" not in schemas  # every 422 is {"code", "message"}
    for name, component in schemas.items():
        for field, spec in component.get("properties", {}).items():
            assert spec.get("description"), f"{name}.{field} has no description"
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/v1/persons"):
            continue
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                assert parameter.get("description"), f"{path} {parameter['name']}"
            error = operation["responses"]["422"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ErrorPublic"}


async def test_service_logs_never_carry_a_whole_certno(client, caplog):
    caplog.set_level(logging.INFO)
    await register(client)
    await client.get("/api/v1/persons", params={"certno": CERTNO})
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("services.")]
    assert any("registered" in m for m in messages)
    assert not any(CERTNO in m for m in messages)
