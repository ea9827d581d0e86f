"""The whole product, as the city runs it: over real HTTP and the real broker, through `make run`.

A school registers a student with enrollment; the tax bureau confirms the premium on Kafka; the
payment becomes an event that settlement folds into coverage; a level-3 hospital settles SPEC §5's
worked example 1 and then reverses it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
from aiokafka import AIOKafkaProducer

from shared.events import TOPIC_TAX_PAYMENTS
from tests.e2e.devstack_runner import ROOT, DevStack

pytestmark = pytest.mark.e2e

YEAR = 2025
STUDENT = {
    "certno": "371502201003151230",
    "name": "Wang Xiaohong",
    "category": "student",
    "region": "371502",
    "organization": "Dongchang No. 2 Middle School",
    "insurance_year": YEAR,
}
# SPEC §5, worked example 1: inpatient at a level-3 hospital.
CLAIM = {
    "mdtrt_id": "ZY2025-000123",
    "med_type": "inpatient",
    "begntime": f"{YEAR}-03-02T09:00:00",
    "endtime": f"{YEAR}-03-12T10:00:00",
    "medfee_sumamt": "20000.00",
    "fulamt_ownpay_amt": "1000.00",
    "overlmt_selfpay": "0.00",
    "preselfpay_amt": "500.00",
    "dise_codg": "K35.8",
}
ZERO_ACCUMULATORS = {
    "inpatient_stays": 0,
    "basic_paid": "0.00",
    "general_outpatient_paid": "0.00",
    "accident_outpatient_paid": "0.00",
    "catastrophic_burden": "0.00",
    "catastrophic_paid": "0.00",
    "assistance_paid": "0.00",
}


@pytest.fixture
def second_pg_url(pg_url):
    """Another fresh PostgreSQL database beside ``pg_url`` (each service has its own)."""
    admin = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{pg_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request, tmp_path) -> dict[str, str] | None:
    """SQLite as `make run` uses it, and PostgreSQL as docker-compose.yml does."""
    if request.param == "sqlite":
        return None
    return {
        "ENROLLMENT_DATABASE_URL": request.getfixturevalue("pg_url"),
        "SETTLEMENT_DATABASE_URL": request.getfixturevalue("second_pg_url"),
    }


@pytest.fixture
def stack(tmp_path, databases):
    stack = DevStack(tmp_path, databases)
    try:
        stack.start()
        yield stack
    finally:
        stack.close()


def add_hospital(stack: DevStack, level: int) -> str:
    """`settlement hospitals add`, as an operator runs it; the key is on the last line."""
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "settlement"),
            "hospitals",
            "add",
            f"--code=L{level}-{uuid.uuid4().hex[:6]}",
            "--name=Liaocheng People's Hospital",
            f"--level={level}",
            "--public",
        ],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


async def publish_payment(bootstrap: str, message: dict) -> None:
    """The tax bureau's side: a plain Kafka producer, nothing from this project's code."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            TOPIC_TAX_PAYMENTS, json.dumps(message).encode(), key=message["certno"].encode()
        )
    finally:
        await producer.stop()


async def coverage_until(client, url, predicate, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        answer = (await client.get(url)).json()
        if predicate(answer) or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(0.2)


def _student_payment() -> dict:
    """The student's premium as the tax bureau reports it."""
    return {
        "tax_serial": f"T{uuid.uuid4().hex[:16]}",
        "certno": STUDENT["certno"],
        "insurance_year": YEAR,
        "amount": "360.00",
        "payer": "individual",
        "channel": "wechat",
        "paid_at": f"{YEAR - 1}-10-01T09:30:00+08:00",
    }


async def _settle_twice(client, stack, psn_no: str) -> dict:
    """The claim settled, then sent again with the same idempotency key: one settlement."""
    claim = {"psn_no": psn_no, **CLAIM}
    idempotency = {"Idempotency-Key": f"his-{uuid.uuid4()}"}
    settled = await client.post(
        f"{stack.settlement_url}/api/v1/settlements", json=claim, headers=idempotency
    )
    assert settled.status_code == 201, settled.text
    result = settled.json()
    assert result["insurance_year"] == YEAR
    assert result["inscp_scp_amt"] == "18500.00"
    assert result["act_pay_dedc"] == "900.00"
    assert result["hifp_pay"] == "10560.00"
    assert result["hifmi_pay"] == "0.00"
    assert result["fund_pay_sumamt"] == "10560.00"
    assert result["psn_part_amt"] == "9440.00"

    # A HIS retry after a timeout gets the first answer, not a second settlement.
    retried = await client.post(
        f"{stack.settlement_url}/api/v1/settlements", json=claim, headers=idempotency
    )
    assert retried.json()["setl_id"] == result["setl_id"]
    return result


async def test_register_pay_settle_and_reverse_across_both_services(stack):
    for database in ("ENROLLMENT_DATABASE_URL", "SETTLEMENT_DATABASE_URL"):
        assert f"data: {stack.env[database]}" in stack.output  # the databases this run is about
    key = add_hospital(stack, level=3)
    hospital = {"Authorization": f"Bearer {key}"}

    admin = {"Authorization": f"Bearer {stack.admin_token}"}  # the banner's demo admin
    async with httpx.AsyncClient(timeout=10, headers=hospital) as client:
        registered = await client.post(
            f"{stack.enrollment_url}/api/v1/persons", json=STUDENT, headers=admin
        )
        assert registered.status_code == 201, registered.text
        psn_no = registered.json()["psn_no"]
        coverage_url = f"{stack.settlement_url}/api/v1/persons/{psn_no}/coverage?date={YEAR}-03-02"

        # Registered but unpaid: settlement knows the person and refuses to cover them yet.
        unpaid = await coverage_until(client, coverage_url, lambda c: c.get("registered"))
        assert unpaid["eligible"] is False
        assert unpaid["code"] == "PREMIUM_UNPAID"
        assert unpaid["premium_due"] == "360.00"

        await publish_payment(stack.bootstrap, _student_payment())
        paid = await coverage_until(client, coverage_url, lambda c: c["eligible"])
        assert paid["eligible"] is True, paid
        assert paid["accumulators"] == ZERO_ACCUMULATORS

        result = await _settle_twice(client, stack, psn_no)
        after = (await client.get(coverage_url)).json()["accumulators"]
        assert after["inpatient_stays"] == 1
        assert after["basic_paid"] == "10560.00"
        assert after["catastrophic_burden"] == "7940.00"

        reversed_ = await client.post(
            f"{stack.settlement_url}/api/v1/settlements/{result['setl_id']}/reverse"
        )
        assert reversed_.status_code == 200, reversed_.text
        assert (await client.get(coverage_url)).json()["accumulators"] == ZERO_ACCUMULATORS
        read_back = await client.get(
            f"{stack.settlement_url}/api/v1/settlements/{result['setl_id']}"
        )
        assert read_back.json()["status"] == "reversed"

    assert stack.interrupt() == 0, stack.output
