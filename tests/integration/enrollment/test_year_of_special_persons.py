"""A year of special persons in Liunan (seed 004), through the service layer on a clock we move:
the carry-over list frozen in December, a civil-affairs list every month with people entering and
leaving, a death in May settled in June then stopped, a low-income elderly person added in August
after paying — ending with the report's figures month by month, the subsidy list to the fen, and
settlement's coverage answering each person's identity and assistance flag on the right dates.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from services.enrollment.adapters.tables import subsidies
from services.enrollment.bootstrap import unit_of_work_factory
from services.enrollment.domain.access import Caller
from services.enrollment.domain.assistance import parse_assistance
from services.enrollment.domain.calendar import Month
from services.enrollment.domain.carry_over import CarryOverRefused, parse_carry_over
from services.enrollment.domain.person import Registration
from services.enrollment.domain.staff import Source, new_staff
from services.enrollment.service_layer import carry_over
from services.enrollment.service_layer.assistance import upload_list
from services.enrollment.service_layer.payments import Incoming, apply_messages
from services.enrollment.service_layer.persons import (
    ChangeIdentity,
    Context,
    Enrollment,
    RecordDeath,
    rules_from_directory,
)
from services.enrollment.service_layer.reports import special_persons_report
from services.enrollment.service_layer.rollover import rollover
from services.enrollment.service_layer.subsidies import record_payout
from services.enrollment.settings import PREMIUM_RULES_DIR
from services.settlement.domain.projection import coverage_on, fold_all
from shared.certno import check_character
from shared.events import Category, Identity

pytestmark = pytest.mark.integration

REGION, TX, ZG = "450204", "潭西街道", "鹧鸪江街道"
DISTRICT = Caller.of(new_staff("ln.district", "district", region="4502"))
CITY = Caller.of(new_staff("lz.city", "city"))
CIVIL = Caller.of(new_staff("ln.civil", "department", source="civil_affairs"))
DISABLED = Caller.of(new_staff("ln.cl", "department", source="disabled_federation"))
TOWN = {
    TX: Caller.of(new_staff("tx.clerk", "town", organization=TX)),
    ZG: Caller.of(new_staff("zg.clerk", "town", organization=ZG)),
}

# who: (number, born, category, town)
PEOPLE = {
    "A": (1, "19580301", Category.RESIDENT, TX),  # ordinary, paid, carried over as 低保
    "B": (2, "19400505", Category.RESIDENT, ZG),  # new on two lists (特困/重残): dies in May
    "C": (3, "19700707", Category.RESIDENT, TX),  # new, 重度残疾: premium paid on behalf
    "D": (4, "19550909", Category.RESIDENT, TX),  # paid, low-income elderly from August
    "F": (5, "20120202", Category.STUDENT, TX),  # paid, orphan from March (before 30 June)
    "G": (6, "19800808", Category.RESIDENT, TX),  # paid, destitute from September
    "H": (7, "19900101", Category.RESIDENT, TX),  # ordinary; medical assistance Feb-Mar only
}


def certno(who: str) -> str:
    n, born, _, _ = PEOPLE[who]
    first17 = f"{REGION}{born}{n:03d}"
    return first17 + check_character(first17)


@dataclass
class Clock:
    day: date

    def today(self) -> date:
        return self.day

    def now(self) -> datetime:
        return datetime.combine(self.day, time(2), UTC)  # 10:00 in Liunan


class Bureau:
    """The service as the bureau's clerks use it, on a clock the test moves."""

    def __init__(self, sessionmaker: Any) -> None:
        self.clock = Clock(date(2024, 10, 10))
        self.uow = unit_of_work_factory(sessionmaker)
        rules_for = rules_from_directory(PREMIUM_RULES_DIR)
        self.ctx = Context(rules_for=rules_for, today=self.clock.today, now=self.clock.now)
        self.enrollment = Enrollment(self.uow, self.ctx)
        self.psn: dict[str, str] = {}

    def on(self, day: date) -> Bureau:
        self.clock.day = day
        return self

    async def register(self, who: str, year: int) -> None:
        _, _, category, town = PEOPLE[who]
        cmd = Registration(certno(who), f"居民{who}", category, REGION, town, year)
        self.psn[who] = (await self.enrollment.register(cmd, TOWN[town])).psn_no

    async def pay(self, who: str, serial: str, amount: str, *, payer: str = "individual") -> None:
        body = {
            "tax_serial": serial,
            "certno": certno(who),
            "insurance_year": 2025,
            "amount": amount,
            "payer": payer,
            "channel": "government" if payer == "government" else "wechat",
            "paid_at": self.clock.now().isoformat(),
        }
        outcome = await apply_messages(self.uow, [Incoming(json.dumps(body).encode())])
        assert outcome.applied == 1, outcome

    async def change(self, who: str, identity: Identity, reason: str, evidence: str) -> None:
        cmd = ChangeIdentity(self.psn[who], identity, False, reason, evidence_ref=evidence)
        await self.enrollment.change_identity(cmd, TOWN[PEOPLE[who][3]])

    async def assistance(self, month: str, *who: str, unknown: int = 0) -> dict[str, Any]:
        text = "姓名,身份证号,行政区划\n" + "".join(f"居民{w},{certno(w)},{REGION}\n" for w in who)
        parsed = parse_assistance(text.encode("gb18030"))
        answer = await upload_list(
            self.uow, Month.parse(month), parsed, CIVIL, self.clock.today(), now=self.clock.now()
        )
        assert len(answer["unknown"]) == unknown
        return answer

    async def stream(self, who: str) -> list[Any]:
        async with self.uow() as work:
            return await work.events.load(self.psn[who])

    async def report(self, month: str) -> dict[str, tuple[int, ...]]:
        result = await special_persons_report(
            self.uow, Month.parse(month), DISTRICT, self.clock.day
        )
        return {r.organization: tuple(vars(r).values())[1:] for r in result.rows}


def carry_over_list(*rows: tuple[str, str, str]) -> bytes:
    lines = ["身份证号,姓名,身份,医疗救助,行政区划,乡镇街道"]
    for who, identity, flag in rows:
        lines.append(f"{certno(who)},居民{who},{identity},{flag},{REGION},{PEOPLE[who][3]}")
    return ("\n".join(lines) + "\n").encode("gb18030")


async def _autumn_and_carry_over(bureau: Bureau) -> None:
    """October-December 2024: registration, payment, the carry-over list frozen."""
    for who in ("A", "D", "F", "G", "H"):
        await bureau.on(date(2024, 10, 10)).register(who, 2025)
    for serial, who, amount in [
        ("TA", "A", "400"),
        ("TD", "D", "400"),
        ("TF", "F", "360"),
        ("TG", "G", "400"),
        ("TH", "H", "400"),
    ]:
        await bureau.on(date(2024, 11, 5)).pay(who, serial, amount)
    bureau.on(date(2024, 12, 2))
    civil = parse_carry_over(carry_over_list(("A", "低保", "是"), ("B", "特困", "否")))
    disabled = parse_carry_over(carry_over_list(("B", "重度残疾", "否"), ("C", "重度残疾", "否")))
    await carry_over.upload(bureau.uow, 2025, Source.CIVIL_AFFAIRS, civil, CIVIL)
    await carry_over.upload(bureau.uow, 2025, Source.DISABLED_FEDERATION, disabled, DISABLED)
    await carry_over.submit(bureau.uow, 2025, DISTRICT, bureau.ctx)
    frozen = await carry_over.freeze(bureau.on(date(2024, 12, 10)).uow, 2025, CITY, bureau.ctx)
    assert (frozen["persons"], frozen["registered"], frozen["identity_set"]) == (3, 2, 3)
    assert frozen["paid_on_behalf"] == 2  # C at the tax bureau; A, who had paid, paid back
    with pytest.raises(CarryOverRefused):
        await carry_over.upload(bureau.uow, 2025, Source.CIVIL_AFFAIRS, civil, CIVIL)
    async with bureau.uow() as work:
        bureau.psn.update({w: (await work.events.find_psn_no(certno(w))) or "" for w in "BC"})


async def _the_year(bureau: Bureau) -> None:
    """January-December 2025, as it happens."""
    await bureau.on(date(2025, 1, 8)).pay("C", "GC", "400", payer="government")
    await bureau.on(date(2025, 1, 3)).assistance("2025-01", "A")
    await bureau.on(date(2025, 2, 4)).assistance("2025-02", "A", "H")
    await bureau.on(date(2025, 3, 3)).assistance("2025-03", "A", "H")
    await bureau.on(date(2025, 3, 17)).change("F", Identity.ORPHAN, "民政孤儿认定", "MZ-GE-12")
    await bureau.on(date(2025, 4, 2)).assistance("2025-04", "A")
    await bureau.on(date(2025, 5, 4)).assistance("2025-05", "A", "B")
    bureau.on(date(2025, 5, 20))
    death = RecordDeath(bureau.psn["B"], date(2025, 5, 12))
    assert (await bureau.enrollment.record_death(death, TOWN[ZG])).settlement_deadline == date(
        2025, 6, 12
    )
    await bureau.on(date(2025, 6, 3)).assistance("2025-06", "A")
    # the family settled on 5 June: the stop is brought forward to that day
    stop = RecordDeath(bureau.psn["B"], date(2025, 5, 12), settlement_deadline=date(2025, 6, 5))
    await bureau.on(date(2025, 6, 5)).enrollment.record_death(stop, TOWN[ZG])
    late = await bureau.on(date(2025, 7, 8)).assistance("2025-07", "A")
    assert late["late"] is True and late["unchanged"] == 1
    await bureau.on(date(2025, 8, 4)).assistance("2025-08", "A")
    await bureau.on(date(2025, 8, 12)).change(
        "D", Identity.LOW_INCOME_ELDERLY, "低收入认定", "MZ-DS-3"
    )
    rolled = await rollover(bureau.on(date(2025, 9, 2)).uow, 2025, 2026, bureau.ctx, DISTRICT)
    assert (rolled.read, rolled.registered) == (7, 6)  # everyone but B, who died
    await bureau.on(date(2025, 9, 3)).assistance("2025-09", "A")
    await bureau.on(date(2025, 9, 9)).change("G", Identity.DESTITUTE, "特困认定", "MZ-TK-5")
    await bureau.on(date(2025, 10, 3)).assistance("2025-10", "A")
    await bureau.on(date(2025, 10, 14)).change("A", Identity.ORDINARY, "收入超标退出", "MZ-TC-77")
    for month, day in (("2025-11", 3), ("2025-12", 2)):
        await bureau.on(date(2025, int(month[-2:]), day)).assistance(month, "A")


async def test_a_year_of_special_persons_in_liunan(sessionmaker):
    bureau = Bureau(sessionmaker)
    await _autumn_and_carry_over(bureau)
    await _the_year(bureau)
    bureau.on(date(2025, 12, 20))
    # the monthly report, month by month: (at_start, added, exited_death, exited_other,
    # identity_changed, assistance_flagged, assistance_unflagged, at_end)
    expected = {
        "2024-12": {},
        "2025-01": {TX: (0, 2, 0, 0, 0, 1, 0, 2), ZG: (0, 1, 0, 0, 0, 0, 0, 1)},
        "2025-02": {TX: (2, 0, 0, 0, 0, 1, 0, 2), ZG: (1, 0, 0, 0, 0, 0, 0, 1)},
        "2025-03": {TX: (2, 1, 0, 0, 0, 0, 0, 3), ZG: (1, 0, 0, 0, 0, 0, 0, 1)},
        "2025-04": {TX: (3, 0, 0, 0, 0, 0, 1, 3), ZG: (1, 0, 0, 0, 0, 0, 0, 1)},
        "2025-05": {TX: (3, 0, 0, 0, 0, 0, 0, 3), ZG: (1, 0, 1, 0, 0, 0, 0, 0)},
        "2025-06": {TX: (3, 0, 0, 0, 0, 0, 0, 3)},
        "2025-08": {TX: (3, 1, 0, 0, 0, 0, 0, 4)},
        "2025-09": {TX: (4, 1, 0, 0, 0, 0, 0, 5)},
        "2025-10": {TX: (5, 0, 0, 1, 0, 0, 1, 4)},
        "2025-11": {TX: (4, 0, 0, 0, 0, 1, 0, 4)},
    }
    for month, rows in expected.items():
        got = {org: row for org, row in (await bureau.report(month)).items() if any(row)}
        assert got == rows, month
    december = await special_persons_report(bureau.uow, Month(2025, 12), DISTRICT, bureau.clock.day)
    assert december.provisional and december.total.at_end == 4
    october = await special_persons_report(bureau.uow, Month(2025, 10), DISTRICT, bureau.clock.day)
    [exit_line] = [d for d in october.details if d.change == "退出"]
    assert (exit_line.from_identity, exit_line.reason) == ("subsistence", "收入超标退出")
    await _subsidies_to_the_fen(bureau)
    await _settlement_sees_the_right_identity_on_each_day(bureau)


async def _subsidies_to_the_fen(bureau: Bureau) -> None:
    async with bureau.uow() as work:
        rows = (await work.session.execute(select(subsidies))).all()
    by_person = {
        (who, r.insurance_year): (r.kind, Decimal(r.amount), r.status, r.tax_serial)
        for r in rows
        for who, psn in bureau.psn.items()
        if r.psn_no == psn
    }
    assert by_person == {
        ("A", 2025): ("paid_on_behalf", Decimal("400.00"), "payable", "TA"),
        ("C", 2025): ("paid_on_behalf", Decimal("400.00"), "payable", None),
        ("F", 2025): ("paid_on_behalf", Decimal("360.00"), "payable", "TF"),
        ("D", 2025): ("low_income_60", Decimal("240.00"), "payable", "TD"),
        ("G", 2025): ("refund_after_payment", Decimal("400.00"), "payable", "TG"),
        # rolled over into 2026 while special: their 2026 premium paid on their behalf
        ("C", 2026): ("paid_on_behalf", Decimal("400.00"), "payable", None),
        ("D", 2026): ("paid_on_behalf", Decimal("400.00"), "payable", None),
    }
    on_behalf = {id_: r for id_, r in ((r.event_id, r) for r in rows) if r.tax_serial is None}
    c_2025 = next(i for i, r in on_behalf.items() if r.insurance_year == 2025)
    paid = await record_payout(
        bureau.uow,
        c_2025,
        paid_on=date(2025, 1, 6),
        reference="GK-2025-001",
        caller=DISTRICT,
        today=bureau.clock.day,
    )
    assert (paid["status"], paid["amount"]) == ("paid", "400.00")
    payable = sum(
        amount
        for (who, year), (_, amount, status, _) in by_person.items()
        if year == 2025 and who != "C"
    )
    assert payable == Decimal("1400.00")  # A 400 + F 360 + D 240 + G 400, owed to the people


async def _settlement_sees_the_right_identity_on_each_day(bureau: Bureau) -> None:
    checks = [
        ("A", date(2024, 12, 20), Identity.ORDINARY, False),
        ("A", date(2025, 1, 15), Identity.SUBSISTENCE, True),
        ("A", date(2025, 10, 15), Identity.ORDINARY, False),
        ("A", date(2025, 11, 15), Identity.ORDINARY, True),
        ("B", date(2025, 5, 10), Identity.DESTITUTE, True),
        ("C", date(2025, 1, 2), Identity.SEVERE_DISABILITY, False),
        ("D", date(2025, 7, 31), Identity.ORDINARY, False),
        ("D", date(2025, 8, 1), Identity.LOW_INCOME_ELDERLY, False),
        ("F", date(2025, 2, 28), Identity.ORDINARY, False),
        ("F", date(2025, 3, 1), Identity.ORPHAN, False),
        ("H", date(2025, 2, 10), Identity.ORDINARY, True),
        ("H", date(2025, 4, 10), Identity.ORDINARY, False),
    ]
    for who, day, identity, flagged in checks:
        coverage = coverage_on(fold_all(await bureau.stream(who)), day)
        assert (coverage.identity, coverage.medical_assistance) == (identity, flagged), (who, day)
    a_2025 = coverage_on(fold_all(await bureau.stream("A")), date(2025, 6, 1))
    assert (a_2025.premium_due, a_2025.premium_paid) == (Decimal("0.00"), Decimal("400.00"))
    b = coverage_on(fold_all(await bureau.stream("B")), date(2025, 5, 10))
    assert (b.date_of_death, b.settlement_deadline) == (date(2025, 5, 12), date(2025, 6, 5))
    c = coverage_on(fold_all(await bureau.stream("C")), date(2025, 1, 2))
    assert c.registered and c.premium_paid >= c.premium_due == Decimal("400.00")


async def test_a_conflict_no_priority_decides_blocks_the_submit_until_a_list_is_re_uploaded(
    sessionmaker, tmp_path
):
    for source in PREMIUM_RULES_DIR.glob("default-*.toml"):
        text = source.read_text(encoding="utf-8")
        (tmp_path / source.name).write_text(text.split("[carry_over]")[0], encoding="utf-8")
    ctx = Context(rules_for=rules_from_directory(tmp_path))
    uow = unit_of_work_factory(sessionmaker)
    civil = parse_carry_over(carry_over_list(("B", "特困", "否")))
    disabled = parse_carry_over(carry_over_list(("B", "重度残疾", "否")))
    await carry_over.upload(uow, 2027, Source.CIVIL_AFFAIRS, civil, CIVIL)
    await carry_over.upload(uow, 2027, Source.DISABLED_FEDERATION, disabled, DISABLED)
    state = await carry_over.read(uow, 2027, DISTRICT, ctx)
    assert [c["identities"] for c in state["conflicts"]] == [
        {"civil_affairs": "destitute", "disabled_federation": "severe_disability"}
    ]
    with pytest.raises(CarryOverRefused) as refused:
        await carry_over.submit(uow, 2027, DISTRICT, ctx)
    assert refused.value.code == "CARRY_OVER_CONFLICTS"
    with pytest.raises(CarryOverRefused) as refused:
        await carry_over.freeze(uow, 2027, CITY, ctx)
    assert refused.value.code == "CARRY_OVER_NOT_SUBMITTED"
    fixed = parse_carry_over(carry_over_list(("B", "特困", "否")))
    await carry_over.upload(uow, 2027, Source.DISABLED_FEDERATION, fixed, DISABLED)
    assert (await carry_over.submit(uow, 2027, DISTRICT, ctx))["status"] == "submitted"


def test_the_rollover_command_prints_its_report_and_goes_one_year_at_a_time(tmp_path):
    command = str(Path(sys.executable).parent / "enrollment")
    env = {**os.environ, "ENROLLMENT_DATABASE_URL": f"sqlite:///{tmp_path / 'e.db'}"}
    done = subprocess.run(
        [command, "rollover", "--from", "2025", "--to", "2026"],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    report = json.loads(done.stdout)
    assert report == {"from": 2025, "to": 2026, "read": 0, "registered": 0, "refused": {}}
    skip = subprocess.run(
        [command, "rollover", "--from", "2025", "--to", "2027"],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert skip.returncode == 1 and b"one year to the next" in skip.stderr
