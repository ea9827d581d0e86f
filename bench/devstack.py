"""The stack as `make run` starts it: how long until it is up, how soon a registration is on Kafka
and in settlement, how long Ctrl-C takes — beside a bare produce→consume round trip on the same
broker (the floor for anything that goes through Kafka).

The acceptance check (issue #2) is a registration readable from ``enrollment.events`` within two
seconds. Environment: BENCH_REGISTRATIONS (default 50).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.certno import check_character
from shared.events import TOPIC_ENROLLMENT_EVENTS
from shared.kafka import ensure_topics
from tests.e2e.devstack_runner import DevStack

REGISTRATIONS = int(os.environ.get("BENCH_REGISTRATIONS", "50"))
YEAR = 2026


def _student(i: int) -> dict[str, object]:
    first17 = f"3715022011{(i // 28) % 12 + 1:02d}{i % 28 + 1:02d}{i % 1000:03d}"
    return {
        "certno": first17 + check_character(first17),
        "name": f"Bench {i}",
        "category": "student",
        "region": "371502",
        "organization": "Bench School",
        "insurance_year": YEAR,
    }


async def _until_key(consumer: AIOKafkaConsumer, key: bytes) -> None:
    while True:
        for messages in (await consumer.getmany(timeout_ms=20)).values():
            if any(message.key == key for message in messages):
                return


async def _timed(n: int, once: Callable[[int], Awaitable[None]]) -> list[float]:
    seconds = []
    for i in range(n):
        started = time.perf_counter()
        async with asyncio.timeout(30):  # a lost message fails the bench instead of hanging it
            await once(i)
        seconds.append(time.perf_counter() - started)
    return seconds


def _line(label: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[max(0, round(0.95 * len(ms)) - 1)]
    return (
        f"   {label:<48} p50 {statistics.median(ms):7.1f} ms  p95 {p95:7.1f} ms  "
        f"max {ms[-1]:7.1f} ms  (n={len(ms)})"
    )


async def _measure(stack: DevStack) -> None:
    bootstrap = stack.bootstrap
    scratch = f"bench.roundtrip.{uuid.uuid4().hex[:6]}"
    await ensure_topics(bootstrap, [scratch], partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    # From the earliest offset, so nothing is missed while positions are resolved; keys are new.
    events, echo = (
        AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", fetch_max_wait_ms=10
        )
        for topic in (TOPIC_ENROLLMENT_EVENTS, scratch)
    )
    await asyncio.gather(producer.start(), events.start(), echo.start())
    headers = {"Authorization": f"Bearer {stack.demo_key}"}
    staff = {"Authorization": f"Bearer {stack.admin_token}"}  # enrollment calls: a staff token
    try:
        async with httpx.AsyncClient(timeout=10) as client:

            async def roundtrip(i: int) -> None:
                key = f"k{i}".encode()
                await producer.send_and_wait(scratch, b"{}", key=key)
                await _until_key(echo, key)

            async def register(i: int) -> str:
                answer = await client.post(
                    f"{stack.enrollment_url}/api/v1/persons", json=_student(i), headers=staff
                )
                answer.raise_for_status()
                return str(answer.json()["psn_no"])

            async def registered_to_kafka(i: int) -> None:
                await _until_key(events, (await register(i)).encode())

            async def registered_to_settlement(i: int) -> None:
                psn_no = await register(REGISTRATIONS + i)
                url = f"{stack.settlement_url}/api/v1/persons/{psn_no}/coverage"
                while True:
                    if (await client.get(url, headers=headers)).status_code == 200:
                        return
                    await asyncio.sleep(0.01)

            baseline = await _timed(REGISTRATIONS, roundtrip)
            to_kafka = await _timed(REGISTRATIONS, registered_to_kafka)
            to_settlement = await _timed(REGISTRATIONS, registered_to_settlement)
    finally:
        await asyncio.gather(producer.stop(), events.stop(), echo.stop())

    print(_line("baseline: produce → consume, bare broker", baseline))
    print(_line("POST /persons → on enrollment.events", to_kafka))
    print(_line("POST /persons → settlement coverage knows them", to_settlement))
    ratio = statistics.median(to_kafka) / statistics.median(baseline)
    print(f"   registration → Kafka p50 is {ratio:.1f}× the bare round trip (acceptance: < 2 s)")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        stack = DevStack(Path(tmp))
        try:
            started = time.perf_counter()
            stack.start()
            print(f"   make run → banner: {time.perf_counter() - started:.1f} s")
            asyncio.run(_measure(stack))
            started = time.perf_counter()
            status = stack.interrupt()
            print(f"   Ctrl-C → every process stopped: {time.perf_counter() - started:.1f} s")
            assert status == 0, stack.output
        finally:
            stack.close()


if __name__ == "__main__":
    main()
