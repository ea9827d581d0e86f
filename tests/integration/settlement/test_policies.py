"""The policy per region and year at the service (SPEC §10): a claim settles under the policy of
the person's registered region and the claim's year, or is refused NO_POLICY; the settlement
records the policy's name and file hash, and the read-back and coverage answers show them."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from services.settlement import migrations
from services.settlement.adapters import hospitals
from services.settlement.adapters.tables import ledger
from services.settlement.bootstrap import bootstrap
from services.settlement.engine import PolicyError, Rejected, load_policy
from services.settlement.engine.policy import POLICY_DIR
from services.settlement.entrypoints.fhir.resources import eligibility_response
from services.settlement.settings import Settings
from tests.support.sample_events import Stream, claim

from .conftest import TODAY, World

pytestmark = pytest.mark.integration

LIAOCHENG = load_policy("liaocheng-2024")
SHIPPED_META = 'region_prefixes = ["3715"]\nyears = [2024, 2025, 2026, 2027]'


def liunan_file(tmp_path: Path) -> Path:
    """A second city's policy: liaocheng's figures with a 1,200 basic cap, 4502 from 2024."""
    text = (POLICY_DIR / "liaocheng-2024.toml").read_text(encoding="utf-8")
    text = text.replace('name = "liaocheng-2024"', 'name = "liunan-2024"', 1)
    text = text.replace(SHIPPED_META, 'region_prefixes = ["4502"]\nyears = [2024]', 1)
    text = text.replace("annual_cap = 120000", "annual_cap = 1200", 1)
    path = tmp_path / "liunan-2024.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def paid(world: World, *, year: int = 2024, region: str = "371502") -> str:
    s = Stream()
    await world.publish(s.registered(year=year, region=region), s.paid(year=year))
    return s.psn_no


async def rows(world: World) -> int:
    async with world.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(ledger))).scalar_one())


async def test_a_person_of_a_region_without_a_policy_is_refused_no_policy(world):
    psn = await paid(world, region="450206")
    for call in (
        world.service.preview(world.level3, claim(psn)),
        world.service.settle(world.level3, claim(psn), "k"),
    ):
        with pytest.raises(Rejected) as refusal:
            await call
        assert refusal.value.code == "NO_POLICY"
        assert "region 450206 in 2024" in refusal.value.message
    assert await rows(world) == 0
    cover = await world.service.coverage(psn_no=psn, on=date(2024, 3, 1))
    assert (cover["eligible"], cover["code"]) == (False, "NO_POLICY")
    assert cover["caps_remaining"] == {} and cover["policy"] is None
    # Readers of the answer keep working: FHIR's eligibility response says why, with no caps.
    fhir = json.loads(eligibility_response(cover, ["benefits"]))
    assert fhir["error"][0]["code"]["coding"][0]["code"] == "NO_POLICY"


async def test_a_year_beyond_the_files_is_no_policy_but_2027_settles_on_2024s_figures(world):
    late = await paid(world, year=2028)
    with pytest.raises(Rejected) as refusal:
        await world.service.settle(
            world.level3, claim(late, begntime="2028-02-01", endtime="2028-02-02"), "k1"
        )
    assert refusal.value.code == "NO_POLICY" and "in 2028" in refusal.value.message
    person = await paid(world, year=2027)
    answer = await world.service.settle(
        world.level3, claim(person, begntime="2027-02-01", endtime="2027-02-09"), "k2"
    )
    assert json.loads(answer.body)["hifp_pay"] == "10560.00"  # worked example 1


async def test_an_ineligible_person_hears_their_own_refusal_before_no_policy(world):
    psn = await paid(world, year=2024)  # not registered for 2028
    with pytest.raises(Rejected) as refusal:
        await world.service.settle(
            world.level3, claim(psn, begntime="2028-02-01", endtime="2028-02-02"), "k"
        )
    assert refusal.value.code == "NOT_ENROLLED"


async def test_the_settlement_records_its_policy_and_the_read_back_shows_it(world):
    psn = await paid(world)
    answer = await world.service.settle(world.level3, claim(psn), "k")
    body = json.loads(answer.body)
    assert "policy" not in body  # the settle answer is as it always was
    read = await world.service.read(world.level3, body["setl_id"])
    assert (read["policy"], read["policy_sha256"]) == ("liaocheng-2024", LIAOCHENG.sha256)
    assert list(read)[: len(body)] == list(body)  # fields added after the existing ones
    async with world.engine.connect() as conn:
        row = (await conn.execute(select(ledger).where(ledger.c.setl_id == body["setl_id"]))).one()
    assert (row.policy_name, row.policy_sha256, row.region) == (
        "liaocheng-2024",
        LIAOCHENG.sha256,
        "371502",
    )
    line = json.loads(row.claim)
    assert line["hospital"] == {"level": 3, "public": True, "primary_care": False}
    assert line["person"] == {"identity": "ordinary", "medical_assistance": False}
    assert line["begntime"] == "2024-03-01T08:00:00" and line["medfee_sumamt"] == "20000.00"
    cover = await world.service.coverage(psn_no=psn, on=date(2024, 3, 1))
    assert (cover["policy"], cover["policy_sha256"]) == ("liaocheng-2024", LIAOCHENG.sha256)


async def test_each_region_settles_under_its_own_policy(db_url, tmp_path):
    await migrations.upgrade_async(db_url)
    settings = Settings(
        SETTLEMENT_DATABASE_URL=db_url, SETTLEMENT_POLICY=f"liaocheng-2024,{liunan_file(tmp_path)}"
    )
    settlement = bootstrap(settings, today=lambda: TODAY)
    try:
        async with settlement.engine.begin() as conn:
            city, _ = await hospitals.add(conn, code="H3", name="City", level=3, public=True)
        world = World(settlement, city, city, city)
        liaocheng, liunan = await paid(world), await paid(world, region="450206")
        first = json.loads((await world.service.settle(city, claim(liaocheng), "a")).body)
        second = json.loads((await world.service.settle(city, claim(liunan), "b")).body)
        assert (first["hifp_pay"], second["hifp_pay"]) == ("10560.00", "1200.00")
        read = await world.service.read(city, second["setl_id"])
        assert read["policy"] == "liunan-2024"
    finally:
        await settlement.aclose()


def test_overlapping_files_stop_the_service_from_starting(tmp_path):
    clash = liunan_file(tmp_path)
    clash.write_text(
        clash.read_text(encoding="utf-8").replace('["4502"]', '["37"]'), encoding="utf-8"
    )
    settings = Settings(
        SETTLEMENT_DATABASE_URL=f"sqlite:///{tmp_path}/s.db",
        SETTLEMENT_POLICY=f"liaocheng-2024,{clash}",
    )
    with pytest.raises(PolicyError) as error:
        bootstrap(settings)
    assert "liaocheng-2024.toml" in str(error.value) and str(clash) in str(error.value)


def test_serve_refuses_to_start_naming_both_files(tmp_path):
    from click.testing import CliRunner

    from services.settlement.entrypoints.cli import cli

    clash = liunan_file(tmp_path)
    clash.write_text(
        clash.read_text(encoding="utf-8").replace('["4502"]', '["3715"]'), encoding="utf-8"
    )
    env = {
        "SETTLEMENT_DATABASE_URL": f"sqlite:///{tmp_path}/s.db",
        "SETTLEMENT_POLICY": f"liaocheng-2024,{clash}",
    }
    result = CliRunner().invoke(cli, ["serve", "--port", "1"], env=env)
    assert result.exit_code == 1
    assert "INVALID_POLICY" in result.output and str(clash) in result.output
    assert "liaocheng-2024.toml" in result.output and "overlap" in result.output
