"""The gateway's use cases on both databases: 2601 before and after its message, a cancel that
cannot be undone, the message log's first row standing."""

from __future__ import annotations

import asyncio

import pytest

from services.settlement.adapters.nhsa_messages import CANCELLED, SETTLED, VOIDED, MessageLog
from services.settlement.adapters.statement_lines import LedgerLines
from services.settlement.errors import Conflict
from services.settlement.service_layer.nhsa import NhsaService
from tests.support.sample_events import claim

pytestmark = pytest.mark.integration


@pytest.fixture
def gateway(world) -> NhsaService:
    return NhsaService(world.service, MessageLog(world.engine), LedgerLines(world.engine))


async def test_2601_reverses_what_its_message_settled_once(world, gateway):
    psn = await world.paid_person()
    done = await gateway.settle(world.level3, "M1", claim(psn), "zh")
    undone = await gateway.undo(world.level3, "M1", "2304", psn)
    assert undone.setl_id == done.document["setl_id"] and undone.reversed_now
    again = await gateway.undo(world.level3, "M1", "2304", psn)
    assert again.setl_id == undone.setl_id and not again.reversed_now
    assert (await world.ledger.totals(psn, 2024)).inpatient_stays == 0


async def test_a_message_voided_before_it_arrives_is_refused_and_leaves_nothing(world, gateway):
    psn = await world.paid_person()
    assert (await gateway.undo(world.level3, "M2", "2304", psn)).setl_id is None
    with pytest.raises(Conflict) as refused:
        await gateway.settle(world.level3, "M2", claim(psn), "zh")
    assert refused.value.code == "MESSAGE_VOIDED"
    assert (await world.ledger.totals(psn, 2024)).basic_paid == 0
    log = MessageLog(world.engine)
    assert (await log.get(world.level3.id, "M2")).outcome == VOIDED
    assert await log.get(world.level2.id, "M2") is None  # message ids are per hospital


async def test_a_cancel_is_recorded_and_cannot_be_undone(world, gateway):
    psn = await world.paid_person()
    done = await gateway.settle(world.level3, "M3", claim(psn), "en")
    setl_id = done.document["setl_id"]
    cancelled = await gateway.cancel(world.level3, "C3", setl_id, psn)
    assert cancelled.reversed_at is not None
    assert (await gateway.cancel(world.level3, "C3", setl_id, psn)).reversed_at is not None
    log = MessageLog(world.engine)
    assert (await log.get(world.level3.id, "C3")).outcome == CANCELLED
    with pytest.raises(Conflict) as refused:
        await gateway.undo(world.level3, "C3", "2305", psn)
    assert refused.value.code == "CANCEL_IRREVERSIBLE"
    assert (await log.record(world.level3.id, "C3", "2601", VOIDED)).outcome == CANCELLED


async def test_a_settlement_logs_its_message_and_a_replay_after_2601_is_refused(world, gateway):
    psn = await world.paid_person()
    done = await gateway.settle(world.level3, "M4", claim(psn), "zh")
    log = MessageLog(world.engine)
    logged = await log.get(world.level3.id, "M4")
    assert (logged.outcome, logged.setl_id) == (SETTLED, done.document["setl_id"])
    await gateway.undo(world.level3, "M4", "2304", psn)
    assert (await log.get(world.level3.id, "M4")).outcome == VOIDED
    with pytest.raises(Conflict) as refused:
        await gateway.settle(world.level3, "M4", claim(psn), "zh")  # the HIS retries it
    assert refused.value.code == "MESSAGE_VOIDED"
    assert (await world.ledger.totals(psn, 2024)).inpatient_stays == 0


async def test_2601_racing_its_message_never_leaves_a_voided_settlement_standing(world, gateway):
    # The HIS timed out on 2304 and sent 2601 while the 2304 was still being posted: whichever
    # order the database sees, the message ends voided and no settlement of it stands.
    psn = await world.paid_person()
    for n in range(12):
        msgid, body = f"R{n}", claim(psn, mdtrt_id=f"RACE{n}")
        settle = gateway.settle(world.level3, msgid, body, "zh")
        undo = gateway.undo(world.level3, msgid, "2304", psn)
        first, second = (settle, undo) if n % 2 else (undo, settle)
        results = await asyncio.gather(first, second, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                assert isinstance(result, Conflict) and result.code == "MESSAGE_VOIDED", result
        assert (await MessageLog(world.engine).get(world.level3.id, msgid)).outcome == VOIDED
        entry = await world.ledger.by_idempotency_key(world.level3.id, msgid)
        assert entry is None or await world.ledger.reversal(entry.setl_id) is not None
    assert (await world.ledger.totals(psn, 2024)).inpatient_stays == 0
