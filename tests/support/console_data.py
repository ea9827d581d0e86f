"""A small, realistic month for the ops consoles: registrations and payments on the enrollment
side, settlements over the month's days, reversals, refusals, a dead letter and a gap on the
settlement side. The browser tests and the screenshots in docs/ are taken on it.

Settlements are posted through the real service; only the clock of their ledger entries is
moved (``settlements.now``) so that they spread over the days of this month.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, time, timedelta
from unittest import mock

import httpx
from sqlalchemy import insert

from services.enrollment import bootstrap as enrollment_bootstrap
from services.enrollment.adapters.special_tables import (
    assistance_uploads,
    carry_over_lists,
    carry_over_years,
)
from services.enrollment.domain.staff import Actor, new_staff
from services.enrollment.domain.tax_messages import Incoming
from services.enrollment.service_layer.payments import apply_messages
from services.enrollment.service_layer.staff import add_staff
from services.settlement import migrations
from services.settlement.adapters import coverage_store, dead_letters, hospitals
from services.settlement.bootstrap import bootstrap
from services.settlement.service_layer import settlements
from services.settlement.settings import Settings
from shared.china_time import CHINA_STANDARD_TIME, china_today
from shared.events import Identity
from tests.integration.enrollment.people import unique_certno
from tests.support.sample_events import Stream, claim

PASSWORD = "console demo password"
TOWNS = ("Dongchang street", "Xincheng street", "Gucheng town")
HOSPITALS = (  # code, name, level, public, primary care
    ("H01", "Liaocheng People's Hospital", 3, True, False),
    ("H02", "Dongchangfu District Hospital", 2, True, False),
    ("H03", "Guanxian County Hospital", 2, False, False),
    ("C01", "Xincheng Community Clinic", 1, True, True),
)


def insurance_year(today: date | None = None) -> int:
    """The year being collected: next year's from September (000 §三), else this one."""
    today = today or china_today()
    return today.year + 1 if today.month >= 9 else today.year


async def seed_enrollment(base_url: str, database_url: str, people: int = 36) -> str:
    """Registrations in three towns, payments for most, two unmatched; returns the admin's
    staff token. The admin logs in to the console as ``admin`` / ``PASSWORD``."""
    wiring = enrollment_bootstrap.connect_url(database_url)
    rng = random.Random(14)
    year = insurance_year()
    try:
        token = await add_staff(
            wiring.sessionmaker,
            new_staff("admin", "admin"),
            actor=Actor("cli:tests", "system"),
            password=PASSWORD,
            rotate_if_exists=True,
        )
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as http:
            for n in range(people):
                identity = "subsistence" if n % 9 == 4 else "destitute" if n % 13 == 6 else None
                body = {
                    "certno": unique_certno(900 + n, "371502"),
                    "name": f"Resident {n}",
                    "category": rng.choice(["resident", "resident", "student", "preschool"]),
                    "region": "371502",
                    "organization": TOWNS[n % 3],
                    "insurance_year": year,
                    **({"identity": identity} if identity else {}),
                }
                answer = await http.post("/api/v1/persons", json=body)
                assert answer.status_code in (200, 201), answer.text
        messages = [
            _payment(f"T{n:05d}", unique_certno(900 + n, "371502"), year, rng)
            for n in range(people)
            if rng.random() < 0.7
        ]
        messages.append(_payment("T99999", unique_certno(999, "371502"), year, rng))
        messages.append(Incoming(b'{"tax_serial": "T99998", "amount": 360}'))
        await apply_messages(wiring.uow, messages)
        await _special_lists(wiring, year)
    finally:
        await wiring.dispose()
    return token


async def _special_lists(wiring, year: int) -> None:
    """The carry-over lists and monthly assistance lists handed in (their status tables)."""
    now = datetime.now(UTC)
    async with wiring.sessionmaker() as session, session.begin():
        await session.execute(
            insert(carry_over_years).values(
                insurance_year=year, status="submitted", submitted_at=now, submitted_by="district.1"
            )
        )
        for source, accepted, rejected in (("civil_affairs", 412, 3), ("health", 57, 0)):
            await session.execute(
                insert(carry_over_lists).values(
                    insurance_year=year,
                    source=source,
                    uploaded_at=now - timedelta(days=20),
                    uploaded_by=f"dept.{source}",
                    accepted=accepted,
                    rejected=rejected,
                )
            )
        for back, (flagged, unflagged) in enumerate(((12, 3), (9, 5), (14, 2))):
            month = (china_today().replace(day=1) - timedelta(days=28 * back)).strftime("%Y-%m")
            await session.execute(
                insert(assistance_uploads).values(
                    month=month,
                    uploaded_at=now - timedelta(days=30 * back),
                    uploaded_by="dept.civil",
                    late=back == 2,
                    flagged=flagged,
                    unflagged=unflagged,
                    unchanged=380,
                    unknown=1,
                    rejected=0,
                )
            )


def _payment(serial: str, certno: str, year: int, rng: random.Random) -> Incoming:
    paid_at = datetime(year - 1, 9, 1, 10, tzinfo=CHINA_STANDARD_TIME) + timedelta(
        days=rng.randrange(0, 80)
    )
    return Incoming(
        json.dumps(
            {
                "tax_serial": serial,
                "certno": certno,
                "insurance_year": year,
                "amount": rng.choice(["400.00", "400.00", "360.00", "200.00"]),
                "payer": "individual",
                "channel": rng.choice(["wechat", "alipay", "etax_app"]),
                "paid_at": paid_at.isoformat(),
            }
        ).encode()
    )


def days_to_seed(today: date | None = None) -> list[date]:
    """The previous month and this month up to today (China time)."""
    today = today or china_today()
    first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    return [first + timedelta(days=n) for n in range((today - first).days + 1)]


async def seed_settlement(database_url: str, per_day: int = 3) -> dict[str, str]:
    """Hospitals and settlements on each day of last month and this one; returns hospital keys."""
    await migrations.upgrade_async(database_url)
    settlement = bootstrap(Settings(SETTLEMENT_DATABASE_URL=database_url))
    rng = random.Random(12)
    keys, known = {}, []
    try:
        async with settlement.engine.begin() as conn:
            for code, name, level, public, primary in HOSPITALS:
                hospital, keys[code] = await hospitals.add(
                    conn, code=code, name=name, level=level, public=public, primary_care=primary
                )
                known.append(hospital)
        persons = {
            y: [await _paid_person(settlement, y, n) for n in range(20)]
            for y in {d.year for d in days_to_seed()}
        }
        posted = []
        for day in days_to_seed():
            for _ in range(per_day):
                posted.append(await _settle_on(settlement, rng, known, persons[day.year], day))
            if day.day % 5 == 0:
                await _refusal_on(settlement, rng, known, day)
        for setl_id, hospital, day in posted[1 :: max(1, len(posted) // 4)][:4]:
            with mock.patch.object(settlements, "now", return_value=_at(day + timedelta(1), rng)):
                await settlement.service.reverse(hospital, setl_id)
        await _pipeline_trouble(settlement)
    finally:
        await settlement.aclose()
    return keys


def _at(day: date, rng: random.Random) -> datetime:
    """A time on ``day`` (China) as a UTC instant, never later than now."""
    at = datetime.combine(day, time(9, rng.randrange(60)), CHINA_STANDARD_TIME).astimezone(UTC)
    return min(at, datetime.now(UTC))


async def _paid_person(settlement, year: int, n: int) -> str:
    stream = Stream()
    identity = Identity.SUBSISTENCE if n % 7 == 3 else Identity.ORDINARY
    events = [stream.registered(year=year, seq=n + 1, identity=identity), stream.paid(year=year)]
    async with settlement.engine.begin() as conn:
        for event in events:
            await coverage_store.apply(conn, event)
    return stream.psn_no


async def _settle_on(settlement, rng, known, persons, day: date) -> tuple[str, object, date]:
    hospital = rng.choice(known)
    total = rng.choice(["800.00", "3500.00", "12000.00", "26000.00", "68000.00", "180000.00"])
    outpatient = hospital.primary_care and float(total) < 5000  # only there (SPEC §5)
    med_type = "general_outpatient" if outpatient else "inpatient"
    body = claim(
        rng.choice(persons),
        med_type=med_type,
        begntime=f"{day.isoformat()}T08:00:00",
        endtime=f"{day.isoformat()}T09:00:00",
        total=total,
        wholly="100.00",
        class_b="50.00",
    )
    with mock.patch.object(settlements, "now", return_value=_at(day, rng)):
        answer = await settlement.service.settle(hospital, body, f"seed-{rng.random()}")
    return json.loads(answer.body)["setl_id"], hospital, day


async def _refusal_on(settlement, rng, known, day: date) -> None:
    """A claim for someone who has not paid, or whom settlement does not know: refused."""
    unpaid = Stream()
    async with settlement.engine.begin() as conn:
        await coverage_store.apply(conn, unpaid.registered(year=day.year, seq=90 + day.day))
    who = rng.choice([unpaid.psn_no, unpaid.psn_no, "P-nobody"])
    body = claim(who, begntime=f"{day.isoformat()}T08:00:00", endtime=f"{day.isoformat()}T09:00:00")
    with mock.patch.object(settlements, "now", return_value=_at(day, rng)):
        try:
            await settlement.service.settle(rng.choice(known), body, f"refused-{rng.random()}")
        except Exception:
            pass


async def _pipeline_trouble(settlement) -> None:
    """A poison message (dead letter) and a person whose next event waits behind a gap."""
    async with settlement.engine.begin() as conn:
        await dead_letters.dead_letter(
            conn,
            topic="enrollment.events",
            partition=1,
            offset=4242,
            key=b"P0000poison",
            value=b"{not json",
            error="not a JSON event envelope",
        )
    stream = Stream()
    events = [stream.registered(seq=77), stream.paid(), stream.paid()]
    async with settlement.engine.begin() as conn:
        await coverage_store.apply(conn, events[0])
        await coverage_store.apply(conn, events[2])  # version 3 before 2: parked
