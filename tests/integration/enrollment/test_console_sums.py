"""The enrollment console's sums, caught up from the event store, equal what each person's own
record says (``GET /api/v1/persons/{psn_no}``: due, paid less refunds, covered) — also when
registrations and payments keep arriving while the sums catch up. Both databases."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from services.enrollment import bootstrap
from services.enrollment.adapters import console_summary
from services.enrollment.adapters.console_summary import console_collection, console_special
from services.enrollment.domain.tax_messages import Incoming
from services.enrollment.service_layer.payments import apply_messages

from .people import unique_certno
from .staff_cast import REGION, YEAR

pytestmark = pytest.mark.integration

TOWNS = ("Dongchang street", "Xincheng street")


async def register(client, n: int, **extra) -> dict:
    body = {
        "certno": unique_certno(n, REGION),
        "name": f"P{n}",
        "category": "student" if n % 3 == 0 else "resident",
        "region": REGION,
        "organization": TOWNS[n % 2],
        "insurance_year": YEAR,
        **extra,
    }
    answer = await client.post("/api/v1/persons", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def message(serial: str, n: int, amount: str, **extra) -> Incoming:
    return Incoming(
        json.dumps(
            {
                "tax_serial": serial,
                "certno": unique_certno(n, REGION),
                "insurance_year": YEAR,
                "amount": amount,
                "payer": "individual",
                "channel": "wechat",
                "paid_at": "2025-10-08T09:30:00+08:00",
                **extra,
            }
        ).encode()
    )


async def truth(client, psn_nos: list[str]) -> dict[str, list]:
    """Per organization from the persons' own records: people, due, paid, covered."""
    found: dict[str, list] = {}
    for psn_no in psn_nos:
        person = (await client.get(f"/api/v1/persons/{psn_no}")).json()
        (year,) = [y for y in person["years"] if y["insurance_year"] == YEAR]
        line = found.setdefault(year["organization"], [0, Decimal(0), Decimal(0), 0])
        line[0] += 1
        line[1] += Decimal(year["premium_due"])
        line[2] += Decimal(year["premium_paid"])
        line[3] += int(year["covered"])
    return found


async def sums(wiring) -> dict[str, list]:
    c = console_collection.c
    query = (
        select(c.organization, *(func.sum(c[n]) for n in ("people", "due", "paid", "covered")))
        .where(c.insurance_year == YEAR)
        .group_by(c.organization)
    )
    async with wiring.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return {
        org: [int(people), Decimal(due) / 100, Decimal(paid) / 100, int(covered)]
        for org, people, due, paid, covered in rows
        if people
    }


async def test_the_sums_equal_the_persons_records_while_events_keep_coming(client, db_url):
    wiring = bootstrap.connect_url(db_url)
    try:
        people = [(await register(client, 300 + n))["psn_no"] for n in range(6)]
        special = await register(client, 310, identity="subsistence")
        people.append(special["psn_no"])
        await apply_messages(
            wiring.uow,
            [message("S1", 300, "400.00"), message("S2", 301, "100.00"),
             message("S3", 302, "360.00")],
        )  # fmt: skip
        assert await console_summary.catch_up(wiring.engine) is not None

        async def more(n: int) -> str:
            psn_no = (await register(client, 320 + n))["psn_no"]
            await apply_messages(wiring.uow, [message(f"M{n}", 320 + n, "400.00")])
            return psn_no

        async def keep_catching_up() -> None:
            for _ in range(8):
                await console_summary.catch_up(wiring.engine)
                await asyncio.sleep(0.01)

        added, *_ = await asyncio.gather(
            asyncio.gather(*(more(n) for n in range(5))), keep_catching_up(), keep_catching_up()
        )
        refund = message("R1", 300, "150.00", kind="refund", original_tax_serial="S1")
        await apply_messages(wiring.uow, [refund])
        changed = await client.post(
            f"/api/v1/persons/{people[1]}/identity",
            json={"identity": "orphan", "medical_assistance": False, "reason": "civil affairs"},
        )
        assert changed.status_code == 200, changed.text
        await console_summary.catch_up(wiring.engine)

        assert await sums(wiring) == await truth(client, [*people, *added])
        s = console_special.c
        async with wiring.engine.connect() as conn:
            query = select(s.identity, func.sum(s.people)).group_by(s.identity)
            identities = {identity: n for identity, n in await conn.execute(query)}
        assert {k: int(v) for k, v in identities.items() if v} == {"subsistence": 1, "orphan": 1}
    finally:
        await wiring.dispose()
