"""A broker that loses its log loses nothing for settlement (issue 9), as operators would see it:
real processes, real HTTP, the embedded broker.

Settlement's consumer folds the first registrations and is then stopped; more registrations and
the tax bureau's payments go out while it is away; the broker is replaced by an empty one on the
same port (Tansu keeps its log in memory, as a `make run` restart does); the consumer comes back.
Enrollment's relay notices the lost log and republishes its event store: every person is known to
settlement at the version enrollment wrote, no event applied twice (one tracking row per event),
`enrollment reconcile` clean, `settlement verify` clean, and a hospital sees a paid person
covered. Bounded (about 40 s here, ≤ 90 s); every process it starts is stopped.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared import staff_tokens, tansu
from shared.certno import check_character
from shared.events import TOPIC_TAX_PAYMENTS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

BIN = Path(sys.executable).parent
YEAR = 2025
FIRST, LATER = range(0, 8), range(8, 20)  # persons registered before and during the pause
PAID = [1, 3, 5, 9, 12, 15, 18]  # of both groups
DISTINCT_EVENTS = "count(DISTINCT event_id)"


def certno(n: int) -> str:
    first17 = f"3715022011{1 + n % 9:02d}{1 + n // 9:02d}{n:03d}"
    return first17 + check_character(first17)


def student(n: int) -> dict:
    return {
        "certno": certno(n),
        "name": f"Student {n}",
        "category": "student",
        "region": "371502",
        "organization": "Dongchang No. 2 Middle School",
        "insurance_year": YEAR,
    }


class Stack:
    """The processes of the test, each logging to a file; ``close()`` stops every one."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.kafka_port, self.enrollment_port, self.settlement_port = (
            tansu.free_port(),
            tansu.free_port(),
            tansu.free_port(),
        )
        self.enrollment_url = f"http://127.0.0.1:{self.enrollment_port}"
        self.settlement_url = f"http://127.0.0.1:{self.settlement_port}"
        self.admin: dict[str, str] = {}
        self.started = time.monotonic()
        private, public = staff_tokens.ensure_key_pair(tmp_path / "keys")
        self.signing_key = staff_tokens.load_private_key(private)
        self.enrollment_db = tmp_path / "enrollment.db"
        self.settlement_db = tmp_path / "settlement.db"
        self.env = {
            **os.environ,
            "ENROLLMENT_DATABASE_URL": f"sqlite:///{self.enrollment_db}",
            "SETTLEMENT_DATABASE_URL": f"sqlite:///{self.settlement_db}",
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "STAFF_TOKEN_PRIVATE_KEY_FILE": str(private),
            "STAFF_TOKEN_PUBLIC_KEY_FILE": str(public),
            "RELAY_POLL_INTERVAL": "0.02",
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    def start_broker(self) -> None:
        self.processes["broker"] = tansu.start(self.kafka_port)

    def start(self, name: str, *command: str) -> None:
        with (self.tmp / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [str(BIN / command[0]), *command[1:]],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self, name: str, *, kill: bool = False) -> None:
        proc = self.processes.pop(name)
        if kill:
            proc.kill()
        else:
            proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        for name in [n for n in self.processes if n != "broker"] + ["broker"]:
            if name in self.processes:
                self.stop(name)

    def run(self, *command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / command[0]), *command[1:]],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def wait_healthy(self, name: str, url: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.processes[name].poll() is None, self.log(name)
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{name} not healthy:\n{self.log(name)}"
            time.sleep(0.1)

    def staff_headers(self) -> dict[str, str]:
        token = staff_tokens.sign(self.signing_key, "e2e.ops", "admin")[0]
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def stack(tmp_path) -> Iterator[Stack]:
    stack = Stack(tmp_path)
    try:
        stack.start_broker()
        stack.start("enrollment", "enrollment", "serve", f"--port={stack.enrollment_port}")
        stack.start("settlement", "settlement", "serve", f"--port={stack.settlement_port}",
                    "--no-consumer")  # fmt: skip
        stack.wait_healthy("enrollment", stack.enrollment_url)
        stack.wait_healthy("settlement", stack.settlement_url)
        stack.start("consumer", "settlement", "consume")
        yield stack
    finally:
        stack.close()


def sql(path: Path, query: str) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(query).fetchall()


def enrollment_versions(stack: Stack) -> dict[str, int]:
    rows = sql(stack.enrollment_db, "SELECT psn_no, max(stream_version) FROM events GROUP BY 1")
    return dict(rows)


def settlement_versions(stack: Stack) -> dict[str, int]:
    return dict(sql(stack.settlement_db, "SELECT psn_no, last_version FROM coverage_persons"))


async def until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.2)


async def register(client: httpx.AsyncClient, stack: Stack, people: range) -> dict[int, str]:
    found = {}
    for n in people:
        answer = await client.post(
            f"{stack.enrollment_url}/api/v1/persons", json=student(n), headers=stack.admin
        )
        assert answer.status_code == 201, answer.text
        found[n] = answer.json()["psn_no"]
    return found


async def pay(stack: Stack, people: list[int]) -> None:
    """The tax bureau's side: a plain Kafka producer."""
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, acks="all")
    await producer.start()
    try:
        for n in people:
            message = {
                "tax_serial": f"T{uuid.uuid4().hex[:16]}",
                "certno": certno(n),
                "insurance_year": YEAR,
                "amount": "360.00",
                "payer": "individual",
                "channel": "wechat",
                "paid_at": f"{YEAR - 1}-10-01T09:30:00+08:00",
            }
            await producer.send_and_wait(
                TOPIC_TAX_PAYMENTS, json.dumps(message).encode(), key=certno(n).encode()
            )
    finally:
        await producer.stop()


def relay_drained(stack: Stack) -> bool:
    return sql(stack.enrollment_db, "SELECT count(*) FROM outbox")[0][0] == 0


def metric(text: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_a_replaced_broker_loses_nothing_for_settlement(stack):
    stack.admin = {"Authorization": f"Bearer {add_admin(stack)}"}
    async with httpx.AsyncClient(timeout=10) as client:
        wrote, psn = await publish_while_settlement_is_paused(client, stack)

        stack.stop("broker", kill=True)  # its log is gone with it
        stack.start_broker()  # empty, same port
        stack.start("consumer", "settlement", "consume")

        clean = stack.run("enrollment", "reconcile", "--settlement-url", stack.settlement_url,
                          "--grace", "0", "--wait", "45", timeout=75)  # fmt: skip
        assert clean.returncode == 0, clean.stdout + clean.stderr + stack.log("enrollment")
        assert json.loads(clean.stdout.splitlines()[-1])["compared"] == len(psn)

        assert settlement_versions(stack) == wrote  # every person, at enrollment's version
        tracked = sql(
            stack.settlement_db, f"SELECT count(*), {DISTINCT_EVENTS} FROM processed_events"
        )
        assert tracked == [(sum(wrote.values()), sum(wrote.values()))]  # each event applied once
        assert sql(stack.settlement_db, "SELECT count(*) FROM pending_events") == [(0,)]
        assert sql(stack.settlement_db, "SELECT count(*) FROM dead_letters") == [(0,)]
        verify = stack.run("settlement", "verify")
        assert verify.returncode == 0, verify.stdout + verify.stderr

        metrics = (await client.get(f"{stack.enrollment_url}/metrics")).text
        assert metric(metrics, "enrollment_broker_losses_total") == 1
        republished = 'enrollment_events_republished_total{cause="broker_loss"}'
        assert metric(metrics, republished) == sum(wrote.values())  # the whole store, once
        assert metric(metrics, 'enrollment_reconciliation_differences{kind="missing"}') == 0
        assert "BROKER LOST DATA" in stack.log("enrollment")

        # A person registered and paid while settlement was away is covered at the hospital.
        key = stack.run("settlement", "hospitals", "add", "--code", "H1", "--name", "City",
                        "--level", "3", "--public").stdout.strip().splitlines()[-1]  # fmt: skip
        coverage = await client.get(
            f"{stack.settlement_url}/api/v1/persons/{psn[PAID[-1]]}/coverage",
            params={"date": f"{YEAR}-03-02"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert coverage.status_code == 200, coverage.text
        assert coverage.json()["eligible"] is True
    assert time.monotonic() - stack.started < 90  # from the first process started


async def publish_while_settlement_is_paused(
    client: httpx.AsyncClient, stack: Stack
) -> tuple[dict[str, int], dict[int, str]]:
    """Registrations folded, the consumer stopped, more registrations and payments relayed to
    the broker only. Returns enrollment's versions and the persons by number."""
    first = await register(client, stack, FIRST)
    await until(
        lambda: set(first.values()) <= set(settlement_versions(stack)),
        30,
        f"the consumer never folded the first registrations:\n{stack.log('consumer')}",
    )
    stack.stop("consumer")  # settlement pauses: what follows waits on the broker

    later = await register(client, stack, LATER)
    await pay(stack, PAID)
    psn = {**first, **later}
    await until(
        lambda: (
            sum(enrollment_versions(stack).values()) >= len(psn) + len(PAID)
            and relay_drained(stack)
        ),
        30,
        f"payments not applied or not relayed:\n{stack.log('enrollment')}",
    )
    wrote = enrollment_versions(stack)
    assert set(wrote) == set(psn.values())
    assert set(settlement_versions(stack)) == set(first.values())  # the rest on the broker only
    return wrote, psn


def add_admin(stack: Stack) -> str:
    done = stack.run("enrollment", "staff", "add", "--name", "e2e.admin", "--role", "admin")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]
