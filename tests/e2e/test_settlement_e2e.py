"""The settlement service end to end: a real server, a real broker, a HIS client over HTTP.

Enrollment events are published to the topic the way enrollment's outbox would; the hospital
then asks for coverage, settles, reads back and reverses over HTTP.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import httpx
import pytest

from shared.events import Event, dlq
from shared.kafka import ensure_topics, make_producer
from shared.tansu import free_port
from tests.support.sample_events import Stream, certno, claim

pytestmark = pytest.mark.e2e

CLI = [sys.executable, "-c", "from services.settlement.entrypoints.cli import main; main()"]


@dataclass
class Stack:
    url: str
    bootstrap: str
    topic: str
    env: dict[str, str]
    keys: dict[str, str]  # hospital code -> API key

    def his(self, code: str = "H3") -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.url}/api/v1",
            headers={"Authorization": f"Bearer {self.keys[code]}"},
            timeout=10,
        )

    def cli(self, *args: str) -> str:
        out = subprocess.run(
            [*CLI, *args], env=self.env, check=True, capture_output=True, text=True
        )
        return out.stdout

    def publish(self, *events: Event) -> None:
        async def send() -> None:
            producer = make_producer(self.bootstrap)
            await producer.start()
            try:
                for event in events:
                    await producer.send_and_wait(
                        self.topic, value=event.to_json(), key=event.psn_no.encode()
                    )
            finally:
                await producer.stop()

        asyncio.run(send())

    def wait_coverage(self, psn_no: str, code: str | None = None, timeout: float = 60) -> dict:
        """Poll the coverage of 2024-03-01 until it is eligible (``code`` None) or refused so."""
        deadline = time.monotonic() + timeout
        with self.his() as his:
            while time.monotonic() < deadline:
                r = his.get(f"/persons/{psn_no}/coverage", params={"date": "2024-03-01"})
                if r.status_code == 200 and r.json().get("code") == code:
                    return r.json()
                time.sleep(0.2)
        raise AssertionError(f"{psn_no} never reached coverage {code or 'eligible'}")


@pytest.fixture(scope="module")
def stack(kafka_bootstrap, tmp_path_factory) -> Iterator[Stack]:
    topic = f"enrollment.events.e2e.{uuid.uuid4().hex[:8]}"
    asyncio.run(ensure_topics(kafka_bootstrap, [topic, dlq(topic)]))
    db = tmp_path_factory.mktemp("settlement") / "settlement.db"
    port = free_port()
    env = {
        **os.environ,
        "SETTLEMENT_DATABASE_URL": f"sqlite:///{db}",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SETTLEMENT_EVENTS_TOPIC": topic,
        "SETTLEMENT_CONSUMER_GROUP": f"settlement-{topic}",
    }
    stack = Stack(f"http://127.0.0.1:{port}", kafka_bootstrap, topic, env, {})
    add = ["hospitals", "add"]
    stack.keys["H3"] = stack.cli(
        *add, "--code", "H3", "--name", "City", "--level", "3", "--public"
    ).splitlines()[-1]
    stack.keys["H2"] = stack.cli(
        *add, "--code", "H2", "--name", "County", "--level", "2"
    ).splitlines()[-1]
    stack.keys["GONE"] = stack.cli(
        *add, "--code", "GONE", "--name", "Closed", "--level", "1"
    ).splitlines()[-1]
    stack.cli("hospitals", "disable", "--code", "GONE")
    stack.keys["DEMO"] = stack.cli("hospitals", "demo").splitlines()[-1]
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{stack.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("settlement serve did not start")
            time.sleep(0.2)
        yield stack
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()


def _paid_person(stack: Stack, seq: int) -> Stream:
    s = Stream()
    stack.publish(s.registered(seq=seq), s.paid())
    stack.wait_coverage(s.psn_no)
    return s


def test_coverage_settle_accumulate_reverse(stack):
    s = Stream()
    stack.publish(s.registered(seq=11))
    unpaid = stack.wait_coverage(s.psn_no, "PREMIUM_UNPAID")
    assert unpaid["eligible"] is False
    stack.publish(s.paid())  # the tax bureau's confirmation, as enrollment publishes it
    cover = stack.wait_coverage(s.psn_no)
    assert cover["eligible"] is True
    assert cover["accumulators"]["basic_paid"] == "0.00"
    assert cover["caps_remaining"]["basic"] == "120000.00"
    with stack.his() as his:
        by_certno = his.get("/coverage", params={"certno": certno(11), "date": "2024-03-01"})
        assert by_certno.status_code == 200 and by_certno.json()["psn_no"] == s.psn_no

        preview = his.post("/settlements/preview", json=claim(s.psn_no))
        assert preview.status_code == 200 and preview.json()["setl_id"] is None

        settled = his.post(
            "/settlements", json=claim(s.psn_no), headers={"Idempotency-Key": "e2e-1"}
        )
        assert settled.status_code == 201, settled.text
        result = settled.json()
        assert result["hifp_pay"] == "10560.00" and result["psn_part_amt"] == "9440.00"
        assert result["setldetail"][0]["fund_pay_type"] == "390100"
        assert all(isinstance(result[k], str) for k in ("hifp_pay", "hifmi_pay", "maf_pay"))

        cover = his.get(f"/persons/{s.psn_no}/coverage", params={"date": "2024-03-01"}).json()
        assert cover["accumulators"]["basic_paid"] == "10560.00"
        assert cover["accumulators"]["inpatient_stays"] == 1

        setl_id = result["setl_id"]
        read = his.get(f"/settlements/{setl_id}").json()
        assert read["status"] == "settled" and read["hifp_pay"] == "10560.00"

        reversed_ = his.post(f"/settlements/{setl_id}/reverse")
        assert reversed_.status_code == 200 and reversed_.json()["status"] == "reversed"
        again = his.post(f"/settlements/{setl_id}/reverse")
        assert again.status_code == 409 and again.json()["code"] == "ALREADY_REVERSED"
        cover = his.get(f"/persons/{s.psn_no}/coverage", params={"date": "2024-03-01"}).json()
        assert cover["accumulators"]["basic_paid"] == "0.00"
        assert cover["accumulators"]["inpatient_stays"] == 0
        assert his.get(f"/settlements/{setl_id}").json()["status"] == "reversed"

    metrics = httpx.get(f"{stack.url}/metrics").text
    assert 'settlement_settlements_total{med_type="inpatient",outcome="settled"}' in metrics
    assert "settlement_adjudication_seconds_bucket" in metrics
    assert "settlement_consumer_lag" in metrics
    assert stack.cli("verify").strip().endswith("every accumulator matches the ledger")


def test_every_eligibility_refusal(stack):
    unpaid, dead, late = Stream(), Stream(), Stream()
    stack.publish(
        unpaid.registered(seq=21),
        dead.registered(seq=22),
        dead.paid(),
        dead.died(date(2024, 2, 20), date(2099, 3, 20)),
        late.registered(seq=23),
        late.paid(),
        late.died(date(2024, 4, 1), date(2024, 5, 1)),  # deadline long past
    )
    stack.wait_coverage(unpaid.psn_no, "PREMIUM_UNPAID")
    stack.wait_coverage(dead.psn_no, "ADMITTED_AFTER_DEATH")
    stack.wait_coverage(late.psn_no, "SETTLEMENT_DEADLINE_PASSED")
    paid = _paid_person(stack, 24)
    cases = [
        (claim(unpaid.psn_no), "PREMIUM_UNPAID"),
        (
            claim(paid.psn_no, begntime="2025-02-01T08:00:00", endtime="2025-02-03T08:00:00"),
            "NOT_ENROLLED",
        ),
        (claim(dead.psn_no), "ADMITTED_AFTER_DEATH"),
        (claim(late.psn_no), "SETTLEMENT_DEADLINE_PASSED"),
        (claim("P-nobody"), "UNKNOWN_PERSON"),
        (claim(paid.psn_no, med_type="general_outpatient"), "NOT_PRIMARY_CARE"),
        (claim(paid.psn_no, total="100.001"), "INVALID_AMOUNTS"),
        (claim(paid.psn_no, endtime="2024-02-01T00:00:00"), "INVALID_DATES"),
    ]
    with stack.his() as his:
        for number, (body, code) in enumerate(cases):
            r = his.post("/settlements", json=body, headers={"Idempotency-Key": f"ref-{number}"})
            assert (r.status_code, r.json()["code"]) == (422, code), (code, r.text)
            assert r.json()["message"]
        unknown = his.get("/persons/P-nobody/coverage")
        assert (unknown.status_code, unknown.json()["code"]) == (404, "UNKNOWN_PERSON")
        dead_cover = his.get(f"/persons/{dead.psn_no}/coverage", params={"date": "2024-03-01"})
        assert dead_cover.json()["code"] == "ADMITTED_AFTER_DEATH"


def test_idempotent_retries_and_one_settlement_per_visit(stack):
    s = _paid_person(stack, 31)
    body = claim(s.psn_no, mdtrt_id="VISIT-1")
    with stack.his() as his:
        first = his.post("/settlements", json=body, headers={"Idempotency-Key": "idem-1"})
        retry = his.post("/settlements", json=body, headers={"Idempotency-Key": "idem-1"})
        assert first.status_code == retry.status_code == 201
        assert retry.content == first.content
        other_body = his.post(
            "/settlements",
            json={**body, "medfee_sumamt": "999.00"},
            headers={"Idempotency-Key": "idem-1"},
        )
        assert (other_body.status_code, other_body.json()["code"]) == (
            409,
            "IDEMPOTENCY_KEY_REUSED",
        )
        same_visit = his.post("/settlements", json=body, headers={"Idempotency-Key": "idem-2"})
        assert (same_visit.status_code, same_visit.json()["code"]) == (409, "ALREADY_SETTLED")
        no_key = his.post("/settlements", json=body)
        assert (no_key.status_code, no_key.json()["code"]) == (422, "IDEMPOTENCY_KEY_REQUIRED")
        cover = his.get(f"/persons/{s.psn_no}/coverage", params={"date": "2024-03-01"}).json()
        assert cover["accumulators"]["inpatient_stays"] == 1


def test_access_is_per_hospital(stack):
    s = _paid_person(stack, 41)
    with stack.his("H3") as city, stack.his("H2") as county:
        setl_id = city.post(
            "/settlements", json=claim(s.psn_no), headers={"Idempotency-Key": "acc-1"}
        ).json()["setl_id"]
        for response in (
            county.get(f"/settlements/{setl_id}"),
            county.post(f"/settlements/{setl_id}/reverse"),
        ):
            assert (response.status_code, response.json()["code"]) == (404, "SETTLEMENT_NOT_FOUND")
        assert city.get(f"/settlements/{setl_id}").status_code == 200
        # the level comes from the registry: the same claim at the level-2 hospital pays 70 %
        result = county.post(
            "/settlements",
            json={**claim(s.psn_no), "hospital": {"level": 3}, "level": 1},
            headers={"Idempotency-Key": "acc-2"},
        ).json()
        # the 2nd stay of the year, at level 2: half of 500 deductible, 70 %
        assert (result["act_pay_dedc"], result["hifp_pay"]) == ("250.00", "12775.00")
    with httpx.Client(base_url=f"{stack.url}/api/v1") as anonymous:
        r = anonymous.get(f"/persons/{s.psn_no}/coverage")
        assert (r.status_code, r.json()["code"]) == (401, "UNAUTHENTICATED")
        r = anonymous.get(f"/persons/{s.psn_no}/coverage", headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401
    with stack.his("GONE") as disabled:
        assert disabled.get(f"/persons/{s.psn_no}/coverage").status_code == 401
    with stack.his("DEMO") as demo:
        assert demo.get(f"/persons/{s.psn_no}/coverage").status_code == 200


def test_a_rotated_key_stops_working_and_the_new_one_works(stack):
    old = stack.cli("hospitals", "add", "--code", "ROT", "--name", "Rotating", "--level", "2")
    stack.keys["ROT"] = old.splitlines()[-1]
    s = _paid_person(stack, 51)
    with stack.his("ROT") as his:
        assert his.get(f"/persons/{s.psn_no}/coverage").status_code == 200
    stack.keys["ROT"] = stack.cli("hospitals", "rotate-key", "--code", "ROT").splitlines()[-1]
    time.sleep(1.2)  # a serving process trusts what it learnt of a key for one second
    with httpx.Client(base_url=f"{stack.url}/api/v1") as his:
        r = his.get(
            f"/persons/{s.psn_no}/coverage",
            headers={"Authorization": f"Bearer {old.splitlines()[-1]}"},
        )
        assert r.status_code == 401
    with stack.his("ROT") as his:
        assert his.get(f"/persons/{s.psn_no}/coverage").status_code == 200


def test_malformed_requests_are_refused_with_a_code(stack):
    with stack.his() as his:
        for content in (b"{not json", b"[1, 2]"):
            r = his.post(
                "/settlements",
                content=content,
                headers={"Idempotency-Key": "bad", "Content-Type": "application/json"},
            )
            assert (r.status_code, r.json()["code"]) == (422, "INVALID_REQUEST")
        r = his.post("/settlements/preview", json={"psn_no": "P1"})
        assert (r.status_code, r.json()["code"]) == (422, "INVALID_REQUEST")
        r = his.get("/persons/P1/coverage", params={"date": "not-a-date"})
        assert (r.status_code, r.json()["code"]) == (422, "INVALID_REQUEST")
        r = his.get("/settlements/S-none")
        assert (r.status_code, r.json()["code"]) == (404, "SETTLEMENT_NOT_FOUND")


def test_a_race_over_http_on_the_default_sqlite_database(stack):
    s = _paid_person(stack, 61)

    async def race() -> list[httpx.Response]:
        clients = [
            httpx.AsyncClient(
                base_url=f"{stack.url}/api/v1",
                headers={"Authorization": f"Bearer {stack.keys[code]}"},
                timeout=60,
            )
            for code in ("H3", "H2")
        ]
        try:
            body = dict(total="40000.00", wholly="0", class_b="0")
            return await asyncio.gather(
                *(
                    clients[i % 2].post(
                        "/settlements",
                        json=claim(s.psn_no, **body),
                        headers={"Idempotency-Key": f"race-{i}"},
                    )
                    for i in range(30)
                )
            )
        finally:
            for client in clients:
                await client.aclose()

    answers = asyncio.run(race())
    assert [a.status_code for a in answers] == [201] * 30
    with stack.his() as his:
        cover = his.get(f"/persons/{s.psn_no}/coverage", params={"date": "2024-03-01"}).json()
    assert cover["accumulators"]["inpatient_stays"] == 30
    assert cover["accumulators"]["basic_paid"] == "120000.00"
    assert cover["caps_remaining"]["basic"] == "0.00"
    total = sum(Decimal(a.json()["hifp_pay"]) for a in answers)
    assert total == Decimal("120000.00")
    assert stack.cli("verify").strip().endswith("every accumulator matches the ledger")


def test_rebuild_and_verify_from_the_command_line(stack):
    s = _paid_person(stack, 71)
    with stack.his() as his:
        settled = his.post(
            "/settlements", json=claim(s.psn_no), headers={"Idempotency-Key": "cli-1"}
        )
        assert settled.status_code == 201
        before = his.get(f"/persons/{s.psn_no}/coverage", params={"date": "2024-03-01"}).json()
    counts = stack.cli("rebuild").split()
    assert any(c.startswith("applied=") and int(c.split("=")[1]) > 0 for c in counts)
    with stack.his() as his:
        after = his.get(f"/persons/{s.psn_no}/coverage", params={"date": "2024-03-01"}).json()
    assert after == before

    db = stack.env["SETTLEMENT_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db, timeout=30) as conn:
        conn.execute("UPDATE accumulators SET inpatient_stays = 7 WHERE psn_no = ?", (s.psn_no,))
    tampered = subprocess.run(
        [*CLI, "verify"], env=stack.env, capture_output=True, text=True, check=False
    )
    assert tampered.returncode == 1 and s.psn_no in tampered.stdout
    with sqlite3.connect(db, timeout=30) as conn:
        conn.execute("UPDATE accumulators SET inpatient_stays = 1 WHERE psn_no = ?", (s.psn_no,))
    assert stack.cli("verify").strip().endswith("every accumulator matches the ledger")
