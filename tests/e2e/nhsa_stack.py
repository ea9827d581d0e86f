"""A settlement server for the hospital-protocol tests (NHSA gateway, FHIR): a real process over
real HTTP, its projection seeded through the consumer's own ``coverage_store.apply``.

No broker: persons are folded into the database before the server starts (a pool of paid-up
persons each test takes from), so each test owns its persons and their ledgers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx

from services.settlement import migrations
from services.settlement.adapters import coverage_store, hospitals
from services.settlement.engine.region import load_region
from shared.db import make_engine
from shared.events import Identity
from shared.tansu import free_port
from tests.support.sample_events import Stream, certno

CLI = [sys.executable, "-c", "from services.settlement.entrypoints.cli import main; main()"]
REGION = load_region("liaocheng")
POOL = 240


@dataclass
class Stack:
    """The server, its hospitals' keys and the seeded persons."""

    url: str
    keys: dict[str, str]
    persons: list[str]
    special: dict[str, str]  # what a person is → psn_no (destitute, unpaid)
    database_url: str
    certnos: dict[str, str] = field(default_factory=dict)  # psn_no → resident ID
    _msgids: Iterator[int] = field(default_factory=itertools.count)

    def person(self) -> str:
        """A paid-up person of 2024 no other test uses."""
        return self.persons.pop()

    def msgid(self, code: str = "H3") -> str:
        """A platform message id: the hospital's code, a time and a sequence."""
        return f"{code}{time.strftime('%Y%m%d%H%M%S')}{next(self._msgids):06d}"

    def http(self, code: str = "H3", **headers: str) -> httpx.Client:
        auth = {"Authorization": f"Bearer {self.keys[code]}"} if code in self.keys else {}
        return httpx.Client(base_url=self.url, headers={**auth, **headers}, timeout=20)

    def envelope(
        self, infno: str, payload: dict[str, Any], code: str = "H3", msgid: str | None = None
    ) -> dict[str, Any]:
        """A request as an HIS wired for the national platform sends it."""
        return {
            "infno": infno,
            "msgid": msgid or self.msgid(code),
            "mdtrtarea_admvs": REGION.admdvs,
            "insuplc_admdvs": REGION.admdvs,
            "recer_sys_code": "FSI_LOCAL",
            "infver": "V1.0",
            "opter_type": "1",
            "opter": "001",
            "opter_name": "收费员",
            "inf_time": time.strftime("%Y-%m-%d %H:%M:%S"),
            "fixmedins_code": code,
            "fixmedins_name": code,
            "sign_no": "",
            "input": payload,
        }

    def nhsa(
        self, infno: str, payload: dict[str, Any], code: str = "H3", msgid: str | None = None
    ) -> dict[str, Any]:
        """One gateway call; the answer's envelope (HTTP 200 always)."""
        with self.http(code) as client:
            response = client.post("/api/nhsa/v1", json=self.envelope(infno, payload, code, msgid))
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer


async def _seed(url: str) -> tuple[dict[str, str], list[str], dict[str, str], dict[str, str]]:
    engine = make_engine(url)
    keys: dict[str, str] = {}
    persons: list[str] = []
    special: dict[str, str] = {}
    certnos: dict[str, str] = {}
    try:
        async with engine.begin() as conn:
            for code, level, public, primary in (
                ("H3", 3, True, False),
                ("H2", 2, False, False),
                ("C1", 1, True, True),
            ):
                _, keys[code] = await hospitals.add(
                    conn, code=code, name=code, level=level, public=public, primary_care=primary
                )
        events = []
        for seq in range(POOL):
            s = Stream()
            events += [s.registered(seq=seq), s.paid()]
            persons.append(s.psn_no)
            certnos[s.psn_no] = certno(seq)
        destitute = Stream()
        events += [
            destitute.registered(seq=900, premium_due="0.00"),
            destitute.identity(Identity.DESTITUTE, date(2024, 2, 1), assistance=True),
            destitute.identity(Identity.ORDINARY, date(2024, 9, 1)),
        ]
        special["destitute"] = destitute.psn_no
        unpaid = Stream()
        events.append(unpaid.registered(seq=901))
        special["unpaid"] = unpaid.psn_no
        async with engine.begin() as conn:
            for event in events:
                await coverage_store.apply(conn, event)
    finally:
        await engine.dispose()
    return keys, persons, special, certnos


def running_stack(tmp_dir: Any) -> Iterator[Stack]:
    """Migrate and seed a SQLite database, serve it, yield the stack, stop the server."""
    url = f"sqlite:///{tmp_dir / f'settlement-{uuid.uuid4().hex[:6]}.db'}"
    migrations.upgrade(url)
    keys, persons, special, certnos = asyncio.run(_seed(url))
    port = free_port()
    env = {**os.environ, "SETTLEMENT_DATABASE_URL": url}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    log = tmp_dir / f"serve-{port}.log"
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--no-consumer"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    stack = Stack(f"http://127.0.0.1:{port}", keys, persons, special, url, certnos)
    try:
        _started(stack.url, server, log)
        yield stack
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()


def _started(url: str, server: subprocess.Popen[bytes], log: Any) -> None:
    """Wait for /healthz (a loaded 2-core machine may take a while); say why it never came."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(
        f"settlement serve did not start:\n{log.read_text(errors='replace')[-2000:]}"
    )


def nhsa_claim(psn_no: str, **changes: Any) -> dict[str, Any]:
    """A 2303/2304 ``data``: worked example 1 of SPEC §5 as an HIS sends it (numbers, codes)."""
    data: dict[str, Any] = {
        "psn_no": psn_no,
        "mdtrt_id": f"ZY{uuid.uuid4().hex[:10]}",
        "med_type": "21",
        "begntime": "2024-03-01 08:00:00",
        "endtime": "2024-03-10 10:00:00",
        "medfee_sumamt": 20000.00,
        "fulamt_ownpay_amt": 1000.00,
        "overlmt_selfpay": 0,
        "preselfpay_amt": 500.00,
        "dise_codg": "K35.8",
        "insutype": "390",
    }
    data.update(changes)
    return data
