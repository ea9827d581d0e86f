"""Settle, replay, reverse and verify against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from services.settlement.adapters.tables import accumulators, ledger
from services.settlement.engine import Rejected
from services.settlement.errors import Conflict, InvalidRequest, NotFound
from services.settlement.service_layer import verify as verifying
from tests.support.sample_events import Stream, claim

pytestmark = pytest.mark.integration


async def _verify(world) -> list:
    async with world.engine.connect() as conn:
        return await verifying.verify(conn)


async def test_worked_example_1_is_posted_once(world):
    psn = await world.paid_person()
    answer = await world.service.settle(world.level3, claim(psn), "k1")
    result = json.loads(answer.body)
    assert answer.status == 201 and result["setl_id"].startswith("S")
    assert result["inscp_scp_amt"] == "18500.00"
    assert result["act_pay_dedc"] == "900.00"
    assert result["hifp_pay"] == "10560.00"
    assert result["hifmi_pay"] == "0.00"
    assert result["psn_part_amt"] == "9440.00"
    assert result["accumulators"]["inpatient_stays"] == 1
    assert result["accumulators"]["basic_paid"] == "10560.00"
    cover = await world.service.coverage(psn_no=psn, on=date(2024, 3, 1))
    assert cover["eligible"] is True
    assert cover["accumulators"]["basic_paid"] == "10560.00"
    assert cover["caps_remaining"]["basic"] == "109440.00"
    assert await _verify(world) == []


async def test_a_retry_with_the_same_key_and_body_replays_the_first_answer(world):
    psn = await world.paid_person()
    body = claim(psn)
    first = await world.service.settle(world.level3, body, "same")
    again = await world.service.settle(world.level3, dict(reversed(list(body.items()))), "same")
    assert again.body == first.body and again.replayed
    async with world.engine.connect() as conn:
        entries = (await conn.execute(select(ledger))).all()
    assert len(entries) == 1
    with pytest.raises(Conflict) as refused:
        await world.service.settle(world.level3, {**body, "medfee_sumamt": "1.00"}, "same")
    assert refused.value.code == "IDEMPOTENCY_KEY_REUSED"
    # keys are per hospital: another hospital may use the same key string
    other = await world.service.settle(world.level2, claim(psn), "same")
    assert other.body != first.body


async def test_a_key_is_required(world):
    psn = await world.paid_person()
    with pytest.raises(InvalidRequest) as refused:
        await world.service.settle(world.level3, claim(psn), None)
    assert refused.value.code == "IDEMPOTENCY_KEY_REQUIRED"


async def test_a_visit_is_settled_once_unless_reversed(world):
    psn = await world.paid_person()
    first = json.loads(
        (await world.service.settle(world.level3, claim(psn, mdtrt_id="V1"), "a")).body
    )
    with pytest.raises(Conflict) as refused:
        await world.service.settle(world.level3, claim(psn, mdtrt_id="V1"), "b")
    assert refused.value.code == "ALREADY_SETTLED"
    # the same visit id at another hospital is another visit
    await world.service.settle(world.level2, claim(psn, mdtrt_id="V1"), "c")
    await world.service.reverse(world.level3, first["setl_id"])
    again = await world.service.settle(world.level3, claim(psn, mdtrt_id="V1"), "d")
    assert again.status == 201
    assert await _verify(world) == []


async def test_reversal_takes_back_exactly_what_was_added_and_only_once(world):
    psn = await world.paid_person()
    # worked example 3: a level-2 stay then a level-3 second stay
    first = json.loads(
        (
            await world.service.settle(
                world.level2, claim(psn, total="31000.00", wholly="1000.00", class_b="0"), "k1"
            )
        ).body
    )
    second = json.loads(
        (
            await world.service.settle(
                world.level3, claim(psn, total="50000.00", wholly="0", class_b="0"), "k2"
            )
        ).body
    )
    assert (first["hifp_pay"], first["psn_part_amt"]) == ("20650.00", "10350.00")
    assert (second["act_pay_dedc"], second["hifp_pay"]) == ("450.00", "29730.00")
    assert (second["hifmi_pay"], second["psn_part_amt"]) == ("11172.00", "9098.00")

    with pytest.raises(NotFound):  # not this hospital's: not found
        await world.service.reverse(world.level3, first["setl_id"])
    with pytest.raises(NotFound):
        await world.service.read(world.level3, first["setl_id"])
    reversed_ = json.loads((await world.service.reverse(world.level2, first["setl_id"])).body)
    assert reversed_["status"] == "reversed"
    assert reversed_["accumulators"] == {
        "inpatient_stays": 1,
        "basic_paid": "29730.00",
        "general_outpatient_paid": "0.00",
        "accident_outpatient_paid": "0.00",
        "catastrophic_burden": "20270.00",
        "catastrophic_paid": "11172.00",
        "assistance_paid": "0.00",
    }
    with pytest.raises(Conflict) as refused:
        await world.service.reverse(world.level2, first["setl_id"])
    assert refused.value.code == "ALREADY_REVERSED"
    read = await world.service.read(world.level2, first["setl_id"])
    assert read["status"] == "reversed" and read["hifp_pay"] == "20650.00"
    assert await _verify(world) == []


async def test_refusals_store_nothing(world):
    s = Stream()
    await world.publish(s.registered())  # registered, premium unpaid
    for body, code in [
        (claim(s.psn_no), "PREMIUM_UNPAID"),
        (claim("nobody"), "UNKNOWN_PERSON"),
        (claim(s.psn_no, total="-1"), "INVALID_AMOUNTS"),
        (
            claim(s.psn_no, begntime="2025-01-05T00:00:00", endtime="2025-01-06T00:00:00"),
            "NOT_ENROLLED",
        ),
        (claim(s.psn_no, med_type="general_outpatient", wholly="0", class_b="0"), "PREMIUM_UNPAID"),
    ]:
        with pytest.raises(Rejected) as refused:
            await world.service.settle(world.level3, body, "k")
        assert refused.value.code == code
    async with world.engine.connect() as conn:
        assert (await conn.execute(select(ledger))).all() == []
        assert (await conn.execute(select(accumulators))).all() == []


async def test_death_rules(world):
    s = Stream()
    await world.publish(s.registered(), s.paid(), s.died(date(2024, 4, 1), date(2024, 5, 1)))
    with pytest.raises(Rejected) as refused:
        await world.service.settle(
            world.level3,
            claim(s.psn_no, begntime="2024-04-02T08:00:00", endtime="2024-04-03T08:00:00"),
            "k1",
        )
    assert refused.value.code == "ADMITTED_AFTER_DEATH"
    # admitted before death but settled (TODAY = 2024-06-01) after the deadline
    with pytest.raises(Rejected) as refused:
        await world.service.settle(world.level3, claim(s.psn_no), "k2")
    assert refused.value.code == "SETTLEMENT_DEADLINE_PASSED"
    cover = await world.service.coverage(psn_no=s.psn_no, on=date(2024, 3, 1))
    assert cover["eligible"] is False and cover["code"] == "SETTLEMENT_DEADLINE_PASSED"


async def test_general_outpatient_needs_primary_care_and_caps_at_200(world):
    psn = await world.paid_person()
    visit = dict(med_type="general_outpatient", wholly="0", class_b="0")
    with pytest.raises(Rejected) as refused:
        await world.service.settle(world.level3, claim(psn, total="150.00", **visit), "g0")
    assert refused.value.code == "NOT_PRIMARY_CARE"
    one = json.loads(
        (await world.service.settle(world.clinic, claim(psn, total="150.00", **visit), "g1")).body
    )
    two = json.loads(
        (await world.service.settle(world.clinic, claim(psn, total="400.00", **visit), "g2")).body
    )
    assert (one["hifp_pay"], two["hifp_pay"], two["psn_part_amt"]) == ("75.00", "125.00", "275.00")
    cover = await world.service.coverage(psn_no=psn, on=date(2024, 3, 1))
    assert cover["caps_remaining"]["general_outpatient"] == "0.00"


async def test_verify_finds_a_tampered_accumulator(world):
    psn = await world.paid_person()
    await world.service.settle(world.level3, claim(psn), "k1")
    async with world.engine.begin() as conn:
        await conn.execute(
            update(accumulators)
            .where(accumulators.c.psn_no == psn)
            .values(basic_paid=Decimal("1.00"))
        )
    differences = await _verify(world)
    assert [(d.psn_no, d.year) for d in differences] == [(psn, 2024)]
    assert differences[0].from_ledger.basic_paid == Decimal("10560.00")


async def test_identifiers_longer_than_the_ledger_holds_are_refused(world):
    psn = await world.paid_person()
    for body, key in [(claim(psn, mdtrt_id="V" * 129), "k"), (claim(psn), "k" * 256)]:
        with pytest.raises(InvalidRequest) as refused:
            await world.service.settle(world.level3, body, key)
        assert refused.value.code == "INVALID_REQUEST"
    assert (
        await world.service.settle(world.level3, claim(psn, mdtrt_id="V" * 128), "k")
    ).status == 201
