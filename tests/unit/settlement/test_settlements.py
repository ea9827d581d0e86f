"""The settle and reverse handlers over an in-memory ``Ledger``: the service needs nothing but
the interface (no database), and the rules of idempotency and reversal hold on any ledger."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

import pytest

from services.settlement.adapters.hospitals import Hospital
from services.settlement.adapters.ledger import AlreadyPosted, Decide, Entry, P
from services.settlement.domain import projection
from services.settlement.engine import Accumulator, load_policy
from services.settlement.errors import Conflict, NotFound
from services.settlement.service_layer.settlements import SettlementService
from tests.support.sample_events import Stream, claim

pytestmark = pytest.mark.unit

CITY = Hospital(1, "H3", "City", level=3, public=True, primary_care=False, active=True)
COUNTY = Hospital(2, "H2", "County", level=2, public=False, primary_care=False, active=True)


class MemoryLedger:
    """``Ledger`` in dictionaries, with the database's unique keys checked by hand."""

    def __init__(self) -> None:
        self.accumulators: dict[tuple[str, int], Accumulator] = {}
        self.coverage: dict[str, str] = {}
        self.entries: list[tuple[str, Entry]] = []
        self.visits: dict[tuple[int, str], str] = {}

    async def totals(self, psn_no: str, year: int) -> Accumulator:
        return self.accumulators.get((psn_no, year), Accumulator.zero())

    async def read_for_claim(self, psn_no: str, year: int) -> tuple[Accumulator, str | None]:
        return await self.totals(psn_no, year), self.coverage.get(psn_no)

    async def post_settlement(
        self, psn_no: str, year: int, decide: Decide[P], *, message: str | None = None
    ) -> P:
        posting = decide(*await self.read_for_claim(psn_no, year))
        entry = posting.entry
        if await self.by_idempotency_key(entry.hospital_id, entry.idempotency_key or ""):
            raise AlreadyPosted
        if (entry.hospital_id, entry.mdtrt_id) in self.visits:
            raise AlreadyPosted
        self.entries.append(("settlement", entry))
        self.visits[(entry.hospital_id, entry.mdtrt_id)] = entry.setl_id
        self.accumulators[(psn_no, year)] = posting.after
        return posting

    async def post_reversal(self, settlement: Entry, decide: Callable[[Accumulator], P]) -> P:
        if await self.reversal(settlement.setl_id) is not None:
            raise AlreadyPosted
        posting = decide(await self.totals(settlement.psn_no, settlement.insurance_year))
        self.entries.append(("reversal", posting.entry))
        del self.visits[(settlement.hospital_id, settlement.mdtrt_id)]
        self.accumulators[(settlement.psn_no, settlement.insurance_year)] = posting.after
        return posting

    async def by_idempotency_key(self, hospital_id: int, key: str) -> Entry | None:
        return next(
            (
                e
                for _, e in self.entries
                if (e.hospital_id, e.idempotency_key) == (hospital_id, key)
            ),
            None,
        )

    async def settlement(self, setl_id: str) -> Entry | None:
        return self._find("settlement", setl_id)

    async def reversal(self, setl_id: str) -> Entry | None:
        return self._find("reversal", setl_id)

    async def visit_settled(self, hospital_id: int, mdtrt_id: str) -> str | None:
        return self.visits.get((hospital_id, mdtrt_id))

    def _find(self, kind: str, setl_id: str) -> Entry | None:
        return next((e for k, e in self.entries if k == kind and e.setl_id == setl_id), None)


class NoStore:
    """The coverage store and the registry: not asked by settle and reverse."""

    async def load(self, psn_no: str) -> None:
        raise AssertionError("settle reads coverage through the ledger")

    async def by_key(self, key: str) -> None:
        raise AssertionError("the handlers take the hospital already authenticated")


@pytest.fixture
def ledger() -> MemoryLedger:
    return MemoryLedger()


@pytest.fixture
def service(ledger: MemoryLedger) -> SettlementService:
    return SettlementService(
        ledger,
        NoStore(),  # type: ignore[arg-type]
        NoStore(),  # type: ignore[arg-type]
        load_policy("liaocheng-2024"),
        today=lambda: date(2024, 6, 1),
    )


def paid_person(ledger: MemoryLedger) -> str:
    s = Stream()
    state = projection.fold_all([s.registered(), s.paid()])
    assert state is not None
    ledger.coverage[s.psn_no] = projection.to_json(state)
    return s.psn_no


async def test_worked_example_1_is_posted_once_and_replayed_byte_for_byte(service, ledger):
    psn = paid_person(ledger)
    body = claim(psn)
    first = await service.settle(CITY, body, "k1")
    again = await service.settle(CITY, dict(reversed(body.items())), "k1")
    result = json.loads(first.body)
    assert (first.status, result["hifp_pay"], result["psn_part_amt"]) == (
        201,
        "10560.00",
        "9440.00",
    )
    assert again.body == first.body and again.replayed and not first.replayed
    assert len(ledger.entries) == 1
    assert ledger.accumulators[(psn, 2024)].to_dict() == result["accumulators"]
    assert ledger.entries[0][1].delta == ledger.accumulators[(psn, 2024)]  # from zero


async def test_a_settled_visit_is_refused_until_reversed(service, ledger):
    psn = paid_person(ledger)
    first = json.loads((await service.settle(CITY, claim(psn, mdtrt_id="V1"), "a")).body)
    with pytest.raises(Conflict) as refused:
        await service.settle(CITY, claim(psn, mdtrt_id="V1"), "b")
    assert refused.value.code == "ALREADY_SETTLED"
    with pytest.raises(NotFound):  # another hospital's settlement is not found
        await service.reverse(COUNTY, first["setl_id"])
    reversed_ = json.loads((await service.reverse(CITY, first["setl_id"])).body)
    assert reversed_["accumulators"] == Accumulator.zero().to_dict()
    with pytest.raises(Conflict) as refused:
        await service.reverse(CITY, first["setl_id"])
    assert refused.value.code == "ALREADY_REVERSED"
    assert (await service.settle(CITY, claim(psn, mdtrt_id="V1"), "c")).status == 201


async def test_a_reversal_the_totals_do_not_hold_is_refused_and_posts_nothing(service, ledger):
    psn = paid_person(ledger)
    settled = json.loads((await service.settle(CITY, claim(psn), "k1")).body)
    ledger.accumulators[(psn, 2024)] = Accumulator.zero()  # totals that lost the settlement
    with pytest.raises(Conflict) as refused:
        await service.reverse(CITY, settled["setl_id"])
    assert refused.value.code == "ACCUMULATOR_MISMATCH"
    assert [kind for kind, _ in ledger.entries] == ["settlement"]
    assert ledger.accumulators[(psn, 2024)] == Accumulator.zero()
