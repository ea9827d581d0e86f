"""The NHSA gateway's overhead against the native HIS API, in the same run (SPEC §9).

One `settlement serve` on a fresh PostgreSQL database seeded as `bench.settlement_api` seeds it;
the same load generator (one process, raw HTTP/1.1 keep-alive connections, CLIENTS of them)
posts settlements for SECONDS seconds each way, in the order native, gateway, native, gateway,
so that drift (a warming cache) falls on both sides. A native call is POST /api/v1/settlements
with an Idempotency-Key; a gateway call is the platform's 2304 envelope to POST /api/nhsa/v1
with the msgid as the key and the answer in the platform's fields, its receipt in Chinese.
The overhead is the server process's CPU time per gateway call over its CPU time per native
call, less one: on a shared 2-core machine the rates move with the neighbours' load, while the
CPU a call costs the server does not (the rates are printed too). The aim is under 15 %.
Environment: BENCH_SECONDS (default 6), BENCH_PERSONS, BENCH_CLIENTS (default 8),
BENCH_NATIVE_LANGUAGE (default zh; empty: no Accept-Language).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import random
import re
import statistics
import time
import uuid
from typing import Any

from bench.settlement_api import _create_db, _drop_db, _seed, _serve
from tests.support.sample_events import claim

SECONDS = float(os.environ.get("BENCH_SECONDS", "6"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "8"))
_LENGTH = re.compile(rb"(?i)\r\ncontent-length: *(\d+)")
# The receipt's language asked of the native door: the gateway's is Chinese (like for like).
NATIVE_LANGUAGE = os.environ.get("BENCH_NATIVE_LANGUAGE", "zh")
_ACCEPT_LANGUAGE = f"Accept-Language: {NATIVE_LANGUAGE}\r\n" if NATIVE_LANGUAGE else ""
_CODES = ("B0", "B1")  # the hospitals bench.settlement_api seeds, in key order


def _native(person: str, key_index: int) -> tuple[str, dict[str, Any], str]:
    body = claim(person, total="3000.00", wholly="100.00", class_b="0")
    return "/api/v1/settlements", body, f"Idempotency-Key: {uuid.uuid4().hex}\r\n{_ACCEPT_LANGUAGE}"


def _gateway(person: str, key_index: int) -> tuple[str, dict[str, Any], str]:
    data = claim(person, total="3000.00", wholly="100.00", class_b="0")
    data.update(med_type="21", begntime="2024-03-01 08:00:00", endtime="2024-03-10 10:00:00")
    data["insutype"] = "390"
    code = _CODES[key_index]
    envelope = {
        "infno": "2304", "msgid": f"{code}{uuid.uuid4().hex}", "mdtrtarea_admvs": "371500",
        "insuplc_admdvs": "371500", "recer_sys_code": "HIS", "infver": "V1.0",
        "opter_type": "1", "opter": "1", "opter_name": "bench", "inf_time": "",
        "fixmedins_code": code, "fixmedins_name": code, "sign_no": "", "input": {"data": data},
    }  # fmt: skip
    return "/api/nhsa/v1", envelope, ""


KINDS = {"native": _native, "gateway": _gateway}


async def _clients(
    port: int, keys: list[str], persons: list[str], kind: str, seconds: float
) -> tuple[int, list[float]]:
    """CLIENTS keep-alive connections, each posting ``kind`` calls until time is up."""
    build = KINDS[kind]
    latencies: list[float] = []
    failures = 0
    stop_at = time.perf_counter() + seconds

    async def one(index: int) -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key_index = index % len(keys)
        try:
            while time.perf_counter() < stop_at:
                path, document, extra = build(random.choice(persons), key_index)
                payload = json.dumps(document).encode()
                writer.write(
                    (
                        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        f"Authorization: Bearer {keys[key_index]}\r\n{extra}"
                        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
                    ).encode()
                    + payload
                )
                started = time.perf_counter()
                head = await reader.readuntil(b"\r\n\r\n")
                length = _LENGTH.search(head)
                assert length is not None, head
                answer = await reader.readexactly(int(length.group(1)))
                latencies.append(time.perf_counter() - started)
                settled = head.startswith(b"HTTP/1.1 201") or b'"infcode":0' in answer[:20]
                failures += not settled
        finally:
            writer.close()

    await asyncio.gather(*(one(i) for i in range(CLIENTS)))
    return failures, latencies


def _process(args: tuple[int, list[str], list[str], str, float]) -> tuple[int, list[float]]:
    return asyncio.run(_clients(*args))


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run(
    pid: int, port: int, keys: list[str], persons: list[str], kind: str
) -> tuple[int, list[float], float]:
    """One run: failures, latencies and the server's CPU seconds spent."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        before = _cpu_seconds(pid)
        failures, latencies = pool.apply(_process, ((port, keys, persons, kind, SECONDS),))
        return failures, latencies, _cpu_seconds(pid) - before


def main() -> None:
    name, url = _create_db("bench_nhsa")
    try:
        keys, persons = _seed(url)
        proc, port = _serve(url, 1)
        try:
            for kind in KINDS:  # warm-up: first calls prepare statements and fill caches
                _process((port, keys, persons, kind, 1.0))
            runs: dict[str, list[tuple[int, list[float], float]]] = {kind: [] for kind in KINDS}
            for _ in range(2):
                for kind in KINDS:
                    runs[kind].append(_run(proc.pid, port, keys, persons, kind))
        finally:
            proc.terminate()
            proc.wait(15)
    finally:
        _drop_db(name)
    print(f"   {CLIENTS} clients, 1 worker, PostgreSQL, {SECONDS:.0f} s per run, ABAB")
    print("   door          calls/s   p50 ms   p99 ms  failures  server CPU ms/call")
    cpu = {}
    for kind, results in runs.items():
        latencies = sorted(lat for _, lats, _ in results for lat in lats)
        failures = sum(f for f, _, _ in results)
        rate = len(latencies) / (SECONDS * len(results))
        cpu[kind] = sum(spent for _, _, spent in results) / len(latencies) * 1000
        p50 = statistics.median(latencies) * 1000
        p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000
        print(
            f"   {kind:<10} {rate:>10,.0f} {p50:>8.1f} {p99:>8.1f} {failures:>9} {cpu[kind]:>19.3f}"
        )
    overhead = cpu["gateway"] / cpu["native"] - 1
    print(f"   gateway overhead against the native call: {overhead:+.1%} of server CPU per call")
    print("   (aim: under 15 %)")


if __name__ == "__main__":
    main()
