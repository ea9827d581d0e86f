"""End to end, as the city's checker does it: ``enrollment serve`` running, an independent Kafka
client publishes tax-bureau messages (good, duplicated, malformed, for unknown people); every good
one becomes exactly one premium-paid event on enrollment.events, every other one is on the
dead-letter topic and in the unmatched list with a reason."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared import tansu
from shared.certno import check_character

from .staff import add_staff, bearer

pytestmark = pytest.mark.e2e

ENROLLMENT = Path(sys.executable).parent / "enrollment"


def certno(n: int) -> str:
    first17 = f"3715022011{1 + n % 9:02d}01{n % 1000:03d}"
    return first17 + check_character(first17)


class Served(NamedTuple):
    url: str
    admin: dict[str, str]  # Authorization headers
    tax: dict[str, str]


@pytest.fixture
def server(tmp_path, kafka_bootstrap):
    port = tansu.free_port()
    log = tmp_path / "serve.log"
    env = {
        **os.environ,
        "ENROLLMENT_DATABASE_URL": f"sqlite:///{tmp_path / 'enrollment.db'}",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "RELAY_POLL_INTERVAL": "0.02",
    }
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(ENROLLMENT), "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        # Every call but /healthz carries a staff token (SPEC §8); the tax role reads the list.
        yield Served(url, bearer(add_staff(env)), bearer(add_staff(env, "tax.1", "tax")))
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def read_all(bootstrap: str, topic: str, keep, expect: int, timeout: float) -> list[dict]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: list[dict] = []
    try:
        deadline = time.monotonic() + timeout
        while len(found) < expect and time.monotonic() < deadline:
            await consumer.topics()
            tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            if not tps:
                await asyncio.sleep(0.5)
                continue
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            found = []
            while time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=1000)
                if not batches:
                    break
                for records in batches.values():
                    for record in records:
                        value = json.loads(record.value)
                        if keep(value):
                            found.append(value)
            if len(found) < expect:
                await asyncio.sleep(0.5)
        return found
    finally:
        await consumer.stop()


async def test_good_payments_become_one_event_each_and_the_rest_dead_letters(
    server, kafka_bootstrap
):
    run = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(base_url=server.url, timeout=10, headers=server.admin) as http:
        people = await _register_three(http)
        good, bad = _payments(run)
        values = [json.dumps(m).encode() for m in good]
        values += [values[0], values[1]]  # the bureau sends two of them again
        values += [raw for raw, _ in bad]
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)  # a plain client
        await producer.start()
        try:
            for value in values:
                await producer.send_and_wait("tax.premium-payments", value)
        finally:
            await producer.stop()
        unmatched, years = await _until_applied(http, server, people, len(bad))
        assert sorted(u["reason"] for u in unmatched) == sorted(r for _, r in bad)
        assert all(y["premium_paid"] == "360.00" for y in years)  # duplicates changed nothing

    await _check_topics(kafka_bootstrap, run, set(people.values()), good, bad)


async def _register_three(http) -> dict[str, str]:
    """Three students registered for 2025: their psn_no by certno."""
    people = {}
    for n in range(3):
        answer = await http.post(
            "/api/v1/persons",
            json={
                "certno": certno(n),
                "name": f"学生{n}",
                "category": "student",
                "region": "371502",
                "organization": "一中",
                "insurance_year": 2025,
            },
        )
        assert answer.status_code == 201, answer.text
        people[certno(n)] = answer.json()["psn_no"]
    return people


def _payments(run: str) -> tuple[list[dict], list[tuple[bytes, str]]]:
    """The good payments, and each bad message with the reason it must be refused for."""

    def pay(serial: str, n: int, **extra) -> dict:
        return {
            "tax_serial": f"{run}-{serial}",
            "certno": certno(n),
            "insurance_year": 2025,
            "amount": "360.00",
            "payer": "individual",
            "channel": "etax_app",
            "paid_at": "2024-10-01T09:30:00+08:00",
            **extra,
        }

    good = [pay("G0", 0), pay("G1", 1), pay("G2", 2, amount=360)]
    bad = [
        (b'{"tax_serial": "' + run.encode() + b'-M", oops', "MALFORMED_JSON"),
        (json.dumps(pay("U1", 7)).encode(), "UNKNOWN_CERTNO"),
        (
            json.dumps({"tax_serial": f"{run}-F1", "certno": certno(0)}).encode(),
            "MISSING_FIELD",
        ),
        (json.dumps(pay("N1", 1, amount="-1.00")).encode(), "NON_POSITIVE_AMOUNT"),
    ]
    return good, bad


async def _until_applied(http, server, people: dict[str, str], bad: int) -> tuple[list, list]:
    """The unmatched list and each person's year once every bad message is listed and every
    person covered (a minute at most)."""
    deadline = time.monotonic() + 60
    while True:
        unmatched = (await http.get("/api/v1/payments/unmatched", headers=server.tax)).json()
        years = [
            (await http.get(f"/api/v1/persons/{psn}")).json()["years"][0] for psn in people.values()
        ]
        if len(unmatched) >= bad and all(y["covered"] for y in years):
            return unmatched, years
        assert time.monotonic() < deadline, (unmatched, years)
        await asyncio.sleep(0.3)


async def _check_topics(
    kafka_bootstrap: str, run: str, ours: set[str], good: list[dict], bad: list
) -> None:
    events = await read_all(
        kafka_bootstrap,
        "enrollment.events",
        lambda e: e["psn_no"] in ours and e["event_type"] == "premium-paid",
        expect=len(good),
        timeout=30,
    )
    # Exactly one event per payment; a redelivery of that same event (same event_id) is the
    # relay's at-least-once, which consumers absorb, not a second event.
    distinct = {e["event_id"]: e for e in events}.values()
    assert sorted(e["payload"]["tax_serial"] for e in distinct) == sorted(
        m["tax_serial"] for m in good
    )
    dead = await read_all(
        kafka_bootstrap,
        "tax.premium-payments.dlq",
        lambda d: run in d["original"] or certno(7) in d["original"],
        expect=len(bad),
        timeout=30,
    )
    # The outbox relay publishes at least once (a broker error between its send and its delete
    # sends the batch again), so a record may come twice: count each original once.
    unique = {(d["original"], d["reason"]) for d in dead}
    assert sorted(reason for _, reason in unique) == sorted(r for _, r in bad)
