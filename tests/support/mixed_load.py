"""A mixed load on the whole stack, as the city sends it, for the chaos test and the soak benchmark.

* **Registrations** (staff at enrollment's API): students who owe 360 yuan, and persons of an
  exempt identity (destitute, subsistence …) who owe nothing and are covered at once. Now and
  then the answer is "lost" and the same registration is sent again: it must answer the same
  person (200), never a second one.
* **Payments** on the tax feed (``tax.premium-payments``, SPEC §4) for every student once their
  registration was acknowledged, published by a plain Kafka producer as the tax bureau's is.
* **Settlements** from several hospitals (SPEC §6): coverage asked first, as a HIS does at
  admission; then ``POST /api/v1/settlements`` with an ``Idempotency-Key``. A few persons get
  huge claims from every hospital at once, so the annual caps are reached and raced for. Now and
  then the answer is "lost" and the HIS sends the same claim with the same key again: it must get
  the first answer byte for byte.

Every client retries on a connection error, a timeout or a broker error (a real HIS and a real tax
bureau do), with the same body and key; an operation counts as acknowledged only once a 2xx (or a
broker's ack) came back, and is then recorded in ``acks`` for the end checks. Any other answer is
an error (``tally``).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from shared.certno import check_character
from shared.events import TOPIC_TAX_PAYMENTS
from tests.support.stack import Hospital, Stack

YEAR = 2025
CLAIM_DAY = f"{YEAR}-03-02"
PREMIUM = "360.00"
EXEMPT = ("destitute", "orphan", "subsistence", "poverty_registered")
HOT = 6  # the first persons covered: every hospital sends them huge claims, to reach the caps


def certno(n: int) -> str:
    """A valid resident ID number (SPEC §2), distinct for each n below 900 × 3000."""
    born = date(2008, 1, 1) + timedelta(days=n // 900)
    first17 = f"371502{born:%Y%m%d}{100 + n % 900:03d}"
    return first17 + check_character(first17)


@dataclass
class Person:
    """A registration acknowledged by enrollment (``psn_no`` from its answer)."""

    certno: str
    owes: bool
    psn_no: str = ""


@dataclass
class Acks:
    """What the clients saw acknowledged; the end state must hold each exactly once."""

    persons: list[Person] = field(default_factory=list)
    payments: dict[str, str] = field(default_factory=dict)  # tax_serial → certno
    settlements: dict[str, tuple[str, str]] = field(default_factory=dict)  # setl_id → code, key


@dataclass
class Tally:
    """Answers by kind of call, retries after no answer, and every unexpected answer."""

    answered: Counter[str] = field(default_factory=Counter)
    retried: Counter[str] = field(default_factory=Counter)
    replays: int = 0  # lost answers asked again and answered the same
    errors: list[str] = field(default_factory=list)

    def error(self, kind: str, what: str) -> None:
        self.errors.append(f"{kind}: {what}"[:300])

    def error_rate(self) -> float:
        total = sum(self.answered.values()) + len(self.errors)
        return len(self.errors) / total if total else 0.0


class MixedLoad:
    """The load's clients; ``run(stop)`` drives them until ``stop`` is set."""

    def __init__(
        self,
        stack: Stack,
        admin_token: str,
        hospitals: list[Hospital],
        *,
        pace: float = 0.05,
        patience: float = 120.0,
        lost_answers: float = 0.1,
        seed: int = 9,
    ) -> None:
        self.stack = stack
        self.admin = {"Authorization": f"Bearer {admin_token}"}
        self.hospitals = hospitals
        self.pace = pace  # seconds each client waits between its operations
        self.patience = patience  # how long a client retries one operation before giving up
        self.lost_answers = lost_answers
        self.random = random.Random(seed)
        self.acks = Acks()
        self.tally = Tally()
        self.payable: list[Person] = []  # exempt, or their payment acknowledged
        self._numbers = iter(range(10**9))
        self._to_pay: asyncio.Queue[Person] = asyncio.Queue()

    async def run(self, stop: asyncio.Event, registrars: int = 2) -> None:
        """Every client at once until ``stop``; each finishes the operation it is in."""
        async with httpx.AsyncClient(timeout=30) as client:
            await asyncio.gather(
                *(self._registrar(client, stop) for _ in range(registrars)),
                self._payer(stop),
                *(self._settler(client, hospital, stop) for hospital in self.hospitals),
            )

    async def _call(
        self, kind: str, send: Callable[[], Awaitable[httpx.Response]], ok: set[int]
    ) -> httpx.Response | None:
        """Send until an answer comes back (same body, same key); None if it is not ``ok``."""
        deadline = time.monotonic() + self.patience
        while True:
            try:
                answer = await send()
            except httpx.TransportError as exc:
                self.tally.retried[kind] += 1
                if time.monotonic() > deadline:
                    self.tally.error(kind, f"no answer for {self.patience:.0f}s: {exc!r}")
                    return None
                await asyncio.sleep(0.25)
                continue
            self.tally.answered[kind] += 1
            if answer.status_code in ok:
                return answer
            self.tally.error(kind, f"{answer.status_code} {answer.text}")
            return None

    # -- registrations -----------------------------------------------------------------------

    def _new_person(self) -> tuple[Person, dict[str, Any]]:
        n = next(self._numbers)
        identity = EXEMPT[n // 8 % len(EXEMPT)] if n % 8 in (2, 5) else "ordinary"
        category = "resident" if n % 8 == 5 else "student"
        body = {
            "certno": certno(n),
            "name": f"Load {n}",
            "category": category,
            "identity": identity,
            "region": "371502",
            "organization": "Dongchang No. 2 Middle School",
            "insurance_year": YEAR,
        }
        return Person(body["certno"], owes=identity == "ordinary"), body

    async def _registrar(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        url = f"{self.stack.url('enrollment')}/api/v1/persons"
        while not stop.is_set():
            person, body = self._new_person()

            def send(body: dict[str, Any] = body) -> Awaitable[httpx.Response]:
                return client.post(url, json=body, headers=self.admin)

            answer = await self._call("register", send, {200, 201})
            if answer is None:
                continue
            person.psn_no = answer.json()["psn_no"]
            if self.random.random() < self.lost_answers:  # the clerk never saw it: again
                again = await self._call("register", send, {200})
                if again is not None and again.json()["psn_no"] != person.psn_no:
                    self.tally.error("register", f"a second person for {person.psn_no}")
            self.acks.persons.append(person)
            if person.owes:
                self._to_pay.put_nowait(person)
            else:
                self.payable.append(person)
            await asyncio.sleep(self.pace)

    # -- the tax feed ------------------------------------------------------------------------

    def _producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self.stack.bootstrap, acks="all", request_timeout_ms=5000
        )

    async def _payer(self, stop: asyncio.Event) -> None:
        producer = self._producer()
        try:
            await producer.start()
            while not stop.is_set():
                try:
                    person = await asyncio.wait_for(self._to_pay.get(), 0.5)
                except TimeoutError:
                    continue
                serial = f"T{uuid.uuid4().hex[:20]}"
                if await self._publish(producer, serial, person.certno):
                    self.acks.payments[serial] = person.certno
                    self.payable.append(person)
                await asyncio.sleep(self.pace)
        finally:
            await producer.stop()

    async def _publish(self, producer: AIOKafkaProducer, serial: str, certno: str) -> bool:
        message = {
            "tax_serial": serial,
            "certno": certno,
            "insurance_year": YEAR,
            "amount": PREMIUM,
            "payer": "individual",
            "channel": "wechat",
            "paid_at": f"{YEAR - 1}-10-01T09:30:00+08:00",
        }
        value, key = json.dumps(message).encode(), certno.encode()
        deadline = time.monotonic() + self.patience
        while True:
            try:
                await producer.send_and_wait(TOPIC_TAX_PAYMENTS, value, key=key)
                self.tally.answered["pay"] += 1
                return True
            except KafkaError as exc:
                self.tally.retried["pay"] += 1
                if time.monotonic() > deadline:
                    self.tally.error("pay", f"not acknowledged for {self.patience:.0f}s: {exc!r}")
                    return False
                await asyncio.sleep(0.5)

    async def resend_payments(self) -> None:
        """The tax bureau sends its acknowledged payments again (what a broker lost before the
        feed's consumer read it is theirs to send again; a known serial changes nothing)."""
        producer = self._producer()
        try:
            await producer.start()
            for serial, certno in list(self.acks.payments.items()):
                if not await self._publish(producer, serial, certno):
                    return
        finally:
            await producer.stop()

    # -- settlements -------------------------------------------------------------------------

    async def _settler(
        self, client: httpx.AsyncClient, hospital: Hospital, stop: asyncio.Event
    ) -> None:
        base = self.stack.url("settlement")
        while not stop.is_set():
            await asyncio.sleep(self.pace)
            if not self.payable:
                continue
            hot = self.random.random() < 0.3
            person = self.random.choice(self.payable[:HOT] if hot else self.payable)
            answer = await self._call(
                "coverage",
                lambda p=person: client.get(
                    f"{base}/api/v1/persons/{p.psn_no}/coverage",
                    params={"date": CLAIM_DAY},
                    headers=hospital.headers,
                ),
                {200, 404},  # 404: not folded by settlement yet
            )
            if answer is not None and answer.json().get("eligible"):
                await self._settle(client, hospital, claim(hospital, person, hot, self.random))

    async def _settle(
        self, client: httpx.AsyncClient, hospital: Hospital, body: dict[str, Any]
    ) -> None:
        key = f"his-{uuid.uuid4()}"
        headers = {**hospital.headers, "Idempotency-Key": key}

        def send() -> Awaitable[httpx.Response]:
            return client.post(
                f"{self.stack.url('settlement')}/api/v1/settlements", json=body, headers=headers
            )

        answer = await self._call("settle", send, {201})
        if answer is None:
            return
        self.acks.settlements[answer.json()["setl_id"]] = (hospital.code, key)
        if self.random.random() < self.lost_answers:  # the HIS timed out: the same claim again
            again = await self._call("settle", send, {201})
            if again is not None and again.content != answer.content:
                self.tally.error("settle", f"a retry under {key} answered differently")
            elif again is not None:
                self.tally.replays += 1


def claim(hospital: Hospital, person: Person, hot: bool, rng: random.Random) -> dict[str, Any]:
    """A claim this hospital may send (outpatient at primary care, stays elsewhere); a hot
    person's claims are big enough to reach the basic, catastrophic and outpatient caps."""
    if hospital.primary_care:
        med_type, total, own = rng.choice(
            [("general_outpatient", 150, 0), ("accident_outpatient", 1500, 0),
             ("chronic_outpatient", 3000, 200)]
        )  # fmt: skip
    else:
        med_type = rng.choice(["inpatient", "inpatient", "chronic_outpatient"])
        total, own = (2_000_000, 10_000) if hot else (rng.randrange(5_000, 60_000), 1_000)
    day = f"{YEAR}-03-{rng.randrange(2, 20):02d}"
    return {
        "psn_no": person.psn_no,
        "mdtrt_id": f"{hospital.code}-{uuid.uuid4().hex[:16]}",
        "med_type": med_type,
        "begntime": f"{CLAIM_DAY}T09:00:00",
        "endtime": f"{day}T10:00:00" if med_type == "inpatient" else f"{CLAIM_DAY}T11:00:00",
        "medfee_sumamt": f"{total}.00",
        "fulamt_ownpay_amt": f"{own}.00",
        "overlmt_selfpay": "0.00",
        "preselfpay_amt": "0.00",
        "dise_codg": "C50.9" if med_type == "chronic_outpatient" else "K35.8",
    }
