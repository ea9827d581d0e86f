"""What-if (SPEC §10) on claims settled through the service: a hand-computed draft on SPEC §5's
worked examples, the identity (a draft equal to the policy in force pays what the ledger paid,
to the fen), the split over processes, the migration's claim lines, and the refusals."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import random
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, update

from services.settlement.adapters.tables import ledger
from services.settlement.engine import Policy, PolicyRegistry, load_policy
from services.settlement.engine.policy import POLICY_DIR
from services.settlement.migrations import HERE as MIGRATIONS
from services.settlement.service_layer import what_if
from services.settlement.service_layer.what_if import WhatIfRefused, load_draft
from tests.support.sample_events import claim

pytestmark = pytest.mark.integration

REGISTRY = PolicyRegistry.load("liaocheng-2024")
SOURCE = (POLICY_DIR / "liaocheng-2024.toml").read_text(encoding="utf-8")


def edited(text: str, *changes: tuple[str, str]) -> str:
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


DRAFT_TEXT = edited(
    SOURCE,
    ('name = "liaocheng-2024"', 'name = "liaocheng-2025-draft"'),
    ("years = [2024, 2025, 2026, 2027]", "years = [2025]"),
    ("[inpatient.levels.3]\ndeductible = 900\nratio = 0.60", "[inpatient.levels.3]\n"
     "deductible = 800\nratio = 0.70"),
    ("ratio = 0.50\nannual_cap = 200", "ratio = 0.60\nannual_cap = 240"),
    ("ratio = 0.90\nannual_cap = 1000", "ratio = 0.80\nannual_cap = 1200"),
    ("{ from = 11000, ratio = 0.60 },\n    { from = 100000, ratio = 0.65 },\n"
     "    { from = 200000, ratio = 0.70 },\n    { from = 300000, ratio = 0.75 },",
     "{ from = 10000, ratio = 0.65 },\n    { from = 100000, ratio = 0.70 },\n"
     "    { from = 200000, ratio = 0.75 },\n    { from = 300000, ratio = 0.80 },"),
)  # fmt: skip
DRAFT = Policy.from_toml(DRAFT_TEXT, "liaocheng-2025-draft.toml")


async def settle(world, hospital, body) -> dict:
    answer = await world.service.settle(hospital, body, f"k-{body['mdtrt_id']}")
    return json.loads(answer.body)


async def worked_examples(world) -> dict[str, str]:
    """SPEC §5's five worked examples, each person's claims settled in order."""
    persons = {name: await world.paid_person() for name in "ABCDE"}
    a, b, c, d, e = persons.values()
    await settle(world, world.level3, claim(a, class_b="500.00"))
    await settle(world, world.level3, claim(b, total="250000.00", wholly="10000.00", class_b="0"))
    await settle(world, world.level2, claim(c, total="31000.00", wholly="1000.00", class_b="0"))
    await settle(world, world.level3, claim(c, total="50000.00", wholly="0", class_b="0"))
    for total in ("150.00", "400.00"):
        visit = claim(d, med_type="general_outpatient", total=total, wholly="0", class_b="0")
        await settle(world, world.clinic, visit)
    accident = claim(e, med_type="accident_outpatient", total="1500.00", wholly="0", class_b="0")
    await settle(world, world.clinic, accident)
    return persons


def amounts(column: dict) -> tuple[str, ...]:
    return tuple(column[k] for k in ("hifp_pay", "hifmi_pay", "maf_pay", "psn_part_amt"))


async def test_a_hand_computed_draft_on_the_five_worked_examples(world):
    persons = await worked_examples(world)
    regions = what_if.regions_of(None, DRAFT)  # the draft's own: 3715
    got = await what_if.what_if(
        world.settlement.settings.database_url, REGISTRY, DRAFT, 2024, regions
    )
    totals = got["totals"]
    # In force, SPEC §5: basic 10,560 + 120,000 + 20,650 + 29,730 + 75 + 125 + 1,000; catastrophic
    # 66,400 + 11,172; patients 9,440 + 63,600 + 10,350 + 9,098 + 75 + 275 + 500.
    assert amounts(totals["ledger"]) == ("182140.00", "77572.00", "0.00", "93338.00")
    assert amounts(totals["in_force"]) == amounts(totals["ledger"])
    # The draft, by hand: (1) (18,500 − 800) × 70% = 12,390; (2) capped 120,000, then
    # 0.65 × 90,000 + 0.70 × 20,000 = 72,500; (3) 20,650, then (50,000 − 400) × 70% = 34,720,
    # burden 9,350 + 15,280 = 24,630 → 0.65 × 14,630 = 9,509.50; (4) 90, then 240 − 90 = 150;
    # (5) (1,500 − 100) × 80% = 1,120 (cap 1,200).
    assert amounts(totals["draft"]) == ("189120.00", "82009.50", "0.00", "81920.50")
    assert totals["change"]["fund_pay_sumamt"] == "11417.50"
    assert (got["claims"], got["persons"]) == (7, 5)
    assert got["exactness"]["claims_differing_from_ledger"] == 0
    by_type = {row["med_type"]: row for row in got["by_med_type"]}
    assert amounts(by_type["general_outpatient"]["draft"]) == ("240.00", "0.00", "0.00", "310.00")
    assert amounts(by_type["accident_outpatient"]["in_force"]) == ("1000.00", "0.00", "0.00",
                                                                  "500.00")  # fmt: skip
    by_level = {row["level"]: row for row in got["by_hospital_level"]}
    assert by_level[2]["draft"]["hifp_pay"] == "20650.00"
    assert by_level[3]["draft"]["claims"] == 3
    assert got["persons_over_catastrophic_threshold"] == {"in_force": 2, "draft": 2}
    caps = got["persons_at_cap"]
    assert caps["basic"] == {"in_force": 1, "draft": 1}
    assert caps["general_outpatient"] == {"in_force": 1, "draft": 1}
    assert caps["accident_outpatient"] == {"in_force": 1, "draft": 0}
    order = [(c["psn_no"], c["change"]) for c in got["largest_changes"]]
    a, b, c, d, e = persons.values()
    assert order == [(b, "6100.00"), (c, "3327.50"), (a, "1830.00"), (e, "120.00"), (d, "40.00")]
    assert got["draft"]["name"] == "liaocheng-2025-draft" and got["regions"] == ["3715"]


def random_claims(world, rng: random.Random, persons: list[str]) -> list[tuple[object, dict]]:
    hospitals = (world.level3, world.level2, world.clinic)
    bodies = []
    for n in range(120):
        psn = rng.choice(persons)
        kind = rng.choice(["inpatient", "inpatient", "chronic_outpatient", "general_outpatient",
                           "accident_outpatient"])  # fmt: skip
        total = Decimal(rng.randint(100, {"inpatient": 9_000_000}.get(kind, 300_000))) / 100
        wholly = (total * rng.randint(0, 10) / 100).quantize(Decimal("0.01"))
        hospital = world.clinic if kind == "general_outpatient" else rng.choice(hospitals)
        body = claim(psn, med_type=kind, total=f"{total:.2f}", wholly=f"{wholly:.2f}",
                     class_b="0.00", dise_codg="N18.5", mdtrt_id=f"R{n}",
                     begntime=f"2024-{rng.randint(1, 12):02d}-0{rng.randint(1, 9)}T08:00:00",
                     endtime="2024-12-31T10:00:00")  # fmt: skip
        bodies.append((hospital, body))
    return bodies


async def test_the_policy_in_force_as_draft_pays_what_the_ledger_paid_to_the_fen(world):
    rng = random.Random(13)
    persons = [await world.paid_person() for _ in range(12)]
    last: dict[str, tuple[object, str]] = {}
    for hospital, body in random_claims(world, rng, persons):
        settled = await settle(world, hospital, body)
        last[body["psn_no"]] = (hospital, settled["setl_id"])
    for hospital, setl_id in list(last.values())[:4]:  # a person's last claim: history unchanged
        await world.service.reverse(hospital, setl_id)
    got = await what_if.what_if(
        world.settlement.settings.database_url, REGISTRY, load_policy("liaocheng-2024"), 2024
    )
    async with world.engine.connect() as conn:
        rows = (await conn.execute(select(ledger.c.setl_id, ledger.c.entry_type,
                                          ledger.c.response))).all()  # fmt: skip
    gone = {r.setl_id for r in rows if r.entry_type == "reversal"}
    standing = [json.loads(r.response) for r in rows
                if r.entry_type == "settlement" and r.setl_id not in gone]  # fmt: skip
    expected = {
        name: f"{sum(Decimal(r[name]) for r in standing):.2f}"
        for name in ("hifp_pay", "hifmi_pay", "maf_pay", "psn_part_amt")
    }
    for column in ("ledger", "in_force", "draft"):
        assert dict(zip(expected, amounts(got["totals"][column]), strict=True)) == expected
    assert got["claims"] == len(standing) == 116
    assert got["exactness"] == {
        "claims_differing_from_ledger": 0,
        "claims_settled_under_another_version": 0,
    }
    for row in got["by_med_type"] + got["by_hospital_level"]:
        assert amounts(row["draft"]) == amounts(row["in_force"]) == amounts(row["ledger"])
        assert set(row["change"].values()) == {"0.00"}
    assert got["largest_changes"] == []


async def test_a_reversal_inside_a_history_is_counted_not_hidden(world):
    psn = await world.paid_person()
    first = await settle(world, world.level3, claim(psn, mdtrt_id="first"))
    await settle(world, world.level3, claim(psn, mdtrt_id="second"))  # its 2nd stay: ½ deductible
    await world.service.reverse(world.level3, first["setl_id"])
    got = await what_if.what_if(
        world.settlement.settings.database_url, REGISTRY, load_policy("liaocheng-2024"), 2024
    )
    # Run again from zero, "second" is the 1st stay: the full deductible, 270 less than paid.
    assert got["exactness"]["claims_differing_from_ledger"] == 1
    assert got["totals"]["ledger"]["hifp_pay"] == "10830.00"
    assert got["totals"]["in_force"]["hifp_pay"] == "10560.00"


async def test_workers_in_processes_give_the_report_of_one(world, monkeypatch):
    await worked_examples(world)
    await worked_examples(world)
    url = world.settlement.settings.database_url
    alone = await what_if.what_if(url, REGISTRY, DRAFT, 2024, workers=1)
    monkeypatch.setattr(what_if, "PARALLEL_FROM", 1)
    split = await what_if.what_if(url, REGISTRY, DRAFT, 2024, workers=3)
    assert split == alone


def backfill_module():
    path = next((MIGRATIONS / "versions").glob("*_policy_per_region.py"))
    spec = importlib.util.spec_from_file_location("policy_per_region", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_migration_fills_claim_lines_that_reproduce_the_ledger(world):
    await worked_examples(world)
    chronic = await world.paid_person()
    await settle(world, world.level2, claim(chronic, med_type="chronic_outpatient",
                                            dise_codg="C34.901", total="8000.00"))  # fmt: skip
    async with world.engine.begin() as conn:
        await conn.execute(update(ledger).values(claim=None, policy_sha256=None))
        await conn.run_sync(backfill_module()._backfill_claims)
        lines = [json.loads(c) for c in (await conn.execute(select(ledger.c.claim))).scalars()]
    assert all(line["backfilled"] for line in lines)
    assert {line["dise_codg"] for line in lines} == {None, "C34.901"}
    got = await what_if.what_if(
        world.settlement.settings.database_url, REGISTRY, load_policy("liaocheng-2024"), 2024
    )
    assert got["exactness"]["claims_differing_from_ledger"] == 0
    assert amounts(got["totals"]["in_force"]) == amounts(got["totals"]["ledger"])


async def test_a_year_without_claims_is_refused_by_name(world):
    await worked_examples(world)
    url = world.settlement.settings.database_url
    with pytest.raises(WhatIfRefused) as refusal:
        await what_if.what_if(url, REGISTRY, DRAFT, 2026)
    assert refusal.value.code == "NO_CLAIMS" and "2026" in refusal.value.message
    with pytest.raises(WhatIfRefused, match="region 4502"):
        await what_if.what_if(url, REGISTRY, DRAFT, 2024, regions=("4502",))


@pytest.mark.parametrize(
    ("change", "code", "named"),
    [
        (("[basic]\n# One annual basic-fund cap shared by inpatient stays and chronic outpatient "
          "treatment.\nannual_cap = 120000\n", ""), "INVALID_POLICY", "basic: Field required"),
        (("ratio = 0.80\n", "ratio = 1.8\n"), "INVALID_POLICY", "inpatient.levels.1.ratio"),
        (("{ from = 200000, ratio = 0.70 }", "{ from = 90000, ratio = 0.70 }"), "INVALID_POLICY",
         "bands must be in increasing order"),
    ],
)  # fmt: skip
def test_a_broken_draft_is_refused_naming_the_problem(tmp_path: Path, change, code, named):
    path = tmp_path / "draft.toml"
    path.write_text(edited(SOURCE, change), encoding="utf-8")
    with pytest.raises(WhatIfRefused) as refusal:
        load_draft(str(path), REGISTRY, allow_paths=True)
    assert refusal.value.code == code and named in refusal.value.message
    assert str(path) in refusal.value.message
    # Over HTTP a draft is a name in the drafts directory, never a path.
    with pytest.raises(WhatIfRefused) as by_name:
        load_draft("draft", REGISTRY, drafts_dir=tmp_path)
    assert by_name.value.code == code
    with pytest.raises(WhatIfRefused) as as_path:
        load_draft(str(path), REGISTRY, drafts_dir=tmp_path)
    assert as_path.value.code == "POLICY_NOT_FOUND"


def test_drafts_are_found_by_name():
    assert load_draft("liaocheng-2024", REGISTRY) is REGISTRY.policies[0]
    with pytest.raises(WhatIfRefused) as refusal:
        load_draft("atlantis-2030", REGISTRY)
    assert refusal.value.code == "POLICY_NOT_FOUND"


async def test_a_what_if_reading_does_not_hold_up_settlements(world, monkeypatch):
    # On SQLite every SQLAlchemy transaction takes the write lock: the what-if reads around it.
    from services.settlement.adapters import ledger_claims

    await worked_examples(world)
    monkeypatch.setattr(ledger_claims, "BATCH", 1)
    async with world.engine.connect() as conn:
        reading = ledger_claims.stream(conn, 2024, ())
        assert len(await anext(reading)) == 1  # the read is open, mid-year
        psn = await world.paid_person()
        settled = await asyncio.wait_for(settle(world, world.level3, claim(psn)), 10)
        assert settled["hifp_pay"] == "10560.00"
        await reading.aclose()
