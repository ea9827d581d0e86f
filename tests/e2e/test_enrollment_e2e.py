"""End to end: ``enrollment serve`` as a real process, HTTP in, Kafka out; SIGKILL mid-burst."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from shared import tansu
from shared.certno import check_character
from shared.events import TOPIC_ENROLLMENT_EVENTS, Event

from .staff import add_staff, bearer

pytestmark = pytest.mark.e2e

ENROLLMENT = Path(sys.executable).parent / "enrollment"


def certno(n: int, salt: int) -> str:
    """Distinct valid numbers: the birth day and sequence encode n, the area code the salt."""
    first17 = f"{371500 + salt % 100:06d}{2000 + n // 1000:04d}0101{n % 1000:03d}"
    return first17 + check_character(first17)


class Server:
    """One ``enrollment serve`` process on its own port, database and log file."""

    def __init__(self, tmp_path: Path, bootstrap: str) -> None:
        self.port = tansu.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "serve.log"
        self.env = {
            **os.environ,
            "ENROLLMENT_DATABASE_URL": f"sqlite:///{tmp_path / 'enrollment.db'}",
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "PAYMENT_CONSUMER_ENABLED": "false",  # not under test here; saves a group join
            "RELAY_POLL_INTERVAL": "0.02",
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.headers: dict[str, str] = {}

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(ENROLLMENT), "serve", "--port", str(self.port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    # Every call but /healthz carries a staff token (SPEC §8).
                    self.headers = self.headers or bearer(add_staff(self.env))
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(self.log.read_text())

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def server(tmp_path, kafka_bootstrap):
    srv = Server(tmp_path, kafka_bootstrap)
    srv.start()
    yield srv
    srv.stop()


async def read_topic(bootstrap: str, want: set[str], timeout: float) -> dict[str, list[Event]]:
    """Read enrollment.events from the start (no group) until every psn_no in ``want`` is seen."""
    consumer = AIOKafkaConsumer(
        TOPIC_ENROLLMENT_EVENTS,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    seen: dict[str, list[Event]] = {}
    try:
        deadline = time.monotonic() + timeout
        while not want <= seen.keys() and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    event = Event.from_json(record.value)
                    assert record.key.decode() == event.psn_no
                    if event.psn_no in want:
                        seen.setdefault(event.psn_no, []).append(event)
    finally:
        await consumer.stop()
    return seen


def registration(number: str) -> dict:
    return {
        "certno": number,
        "name": "张三",
        "category": "student",
        "region": "371502",
        "organization": "聊城一中",
        "insurance_year": 2024,
    }


async def test_a_registration_reaches_the_topic(server, kafka_bootstrap):
    number = certno(1, uuid.uuid4().int)
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers) as client:
        answer = await client.post("/api/v1/persons", json=registration(number))
    assert answer.status_code == 201, answer.text
    psn_no = answer.json()["psn_no"]
    seen = await read_topic(kafka_bootstrap, {psn_no}, timeout=10)
    elapsed = time.monotonic() - started
    [event] = seen[psn_no]
    assert event.event_type == "registered"
    assert event.payload.certno == number
    assert elapsed < 5, f"took {elapsed:.1f}s"
    assert number not in server.log.read_text()  # logged masked, never whole
    assert event.actor == "admin (admin)"  # who registered them (SPEC §8)


async def test_sigkill_mid_burst_loses_no_answered_registration(server, kafka_bootstrap):
    salt = uuid.uuid4().int
    answered: dict[str, str] = {}  # certno -> psn_no, for every 2xx answer
    counter = iter(range(100_000))
    killed = asyncio.Event()

    async def client_loop() -> None:
        async with httpx.AsyncClient(
            base_url=server.url, timeout=10, headers=server.headers
        ) as client:
            while not killed.is_set():
                number = certno(next(counter), salt)
                try:
                    answer = await client.post("/api/v1/persons", json=registration(number))
                except httpx.HTTPError:
                    continue  # no answer: the registration may or may not exist
                if answer.is_success:
                    answered[number] = answer.json()["psn_no"]

    clients = [asyncio.create_task(client_loop()) for _ in range(8)]
    deadline = time.monotonic() + 30
    while len(answered) < 40 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    server.kill()  # SIGKILL, in the middle of the burst
    killed.set()
    await asyncio.gather(*clients)
    assert len(answered) >= 40

    server.start()  # same database; migrations and relay resume
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers) as client:
        for number, psn_no in answered.items():
            found = await client.get("/api/v1/persons", params={"certno": number})
            assert found.status_code == 200, number
            assert found.json()["psn_no"] == psn_no
    seen = await read_topic(kafka_bootstrap, set(answered.values()), timeout=20)
    missing = set(answered.values()) - seen.keys()
    assert not missing, f"{len(missing)} answered registrations never reached the topic"
    log = server.log.read_text()
    assert not any(number in log for number in answered)
