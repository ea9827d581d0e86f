"""Policy files: liaocheng-2024 carries SPEC §5's numbers; a broken file names its bad field."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from services.settlement.engine import Policy, PolicyError, load_policy
from services.settlement.engine.policy import POLICY_DIR
from shared.events import Identity

from .builders import LIAOCHENG

pytestmark = pytest.mark.unit

SOURCE = (POLICY_DIR / "liaocheng-2024.toml").read_text(encoding="utf-8")


def test_liaocheng_2024_numbers() -> None:
    p = LIAOCHENG
    assert p.name == "liaocheng-2024"
    assert p.basic.annual_cap == 120000
    assert p.inpatient.stay_deductible_factors == [1, Decimal("0.5"), 0]
    assert (p.inpatient.terms(1, False).deductible, p.inpatient.terms(1, False).ratio) == (
        200,
        Decimal("0.80"),
    )
    assert (p.inpatient.terms(1, True).deductible, p.inpatient.terms(1, True).ratio) == (
        100,
        Decimal("0.90"),
    )
    assert p.inpatient.terms(2, True).deductible == 500
    assert p.inpatient.terms(3, False).ratio == Decimal("0.60")
    assert p.chronic_outpatient.ratio == Decimal("0.65")
    assert (p.general_outpatient.ratio, p.general_outpatient.annual_cap) == (Decimal("0.50"), 200)
    assert p.accident_outpatient.deductible_per_visit == 100
    assert p.accident_outpatient.annual_cap == 1000
    assert [(b.start, b.ratio) for b in p.catastrophic.bands] == [
        (11000, Decimal("0.60")),
        (100000, Decimal("0.65")),
        (200000, Decimal("0.70")),
        (300000, Decimal("0.75")),
    ]
    assert p.catastrophic.annual_cap == 400000
    assert p.assistance is None


def test_ratios_are_read_exactly() -> None:
    assert LIAOCHENG.catastrophic.bands[1].ratio.as_tuple() == Decimal("0.65").as_tuple()


def test_load_policy_is_cached_and_takes_a_path() -> None:
    assert load_policy("liaocheng-2024") is load_policy("liaocheng-2024")
    assert load_policy(str(POLICY_DIR / "liaocheng-2024.toml")) == LIAOCHENG


def test_unknown_policy() -> None:
    with pytest.raises(PolicyError, match="no such policy"):
        load_policy("atlantis-2024")


def broken(old: str, new: str) -> str:
    assert old in SOURCE
    return SOURCE.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (broken("ratio = 0.60\n", "ratio = 1.2\n"), "inpatient.levels.3.ratio"),
        (broken("{ from = 200000, ratio = 0.70 }", "{ from = 90000, ratio = 0.70 }"), "bands"),
        (broken("{ from = 100000, ratio = 0.65 }", "{ from = 11000, ratio = 0.65 }"), "bands"),
        (broken("[inpatient.levels.2]\ndeductible = 500\nratio = 0.70\n", ""), "levels"),
        (broken("annual_cap = 120000", "annual_cap = -1"), "basic.annual_cap"),
        (broken("annual_cap = 120000", "annual_cap = 1.001"), "basic.annual_cap"),
        (broken("annual_cap = 400000", ""), "catastrophic.annual_cap"),
        (broken('codes = "N18"', 'codes = "renal"'), "chronic_outpatient.diseases.1.codes"),
        (broken("ratio = 0.65\n", "ratio = 0.65\nratios = 1\n"), "chronic_outpatient.ratios"),
        (broken("[basic]", "[basic]\nunknown = 1"), "basic.unknown"),
    ],
)
def test_invalid_policy_names_the_field(text: str, field: str) -> None:
    with pytest.raises(PolicyError) as error:
        Policy.from_toml(text, source="broken.toml")
    assert field in str(error.value)
    assert "broken.toml" in str(error.value)


def test_a_level_missing_is_named() -> None:
    text = broken("[inpatient.levels.2]\ndeductible = 500\nratio = 0.70\n", "")
    with pytest.raises(PolicyError, match="hospital level 2 is missing"):
        Policy.from_toml(text)


def test_not_toml_at_all() -> None:
    with pytest.raises(PolicyError, match="not valid TOML"):
        Policy.from_toml("name = ")


def test_tilt_must_match_the_bands() -> None:
    text = SOURCE + "\n[catastrophic.tilt.destitute]\nthreshold = 5000\nratios = [0.7]\n"
    with pytest.raises(PolicyError, match=r"tilt\.destitute\.ratios"):
        Policy.from_toml(text)
    text = SOURCE + "\n[catastrophic.tilt.orphan]\nthreshold = 150000\nratios = [1, 1, 1, 1]\n"
    with pytest.raises(PolicyError, match=r"tilt\.orphan\.threshold"):
        Policy.from_toml(text)


def test_unknown_identity_in_assistance_is_named() -> None:
    text = SOURCE + "\n[assistance.identities.millionaire]\nratio = 0.5\nannual_cap = 1\n"
    with pytest.raises(PolicyError, match=r"assistance\.identities\.millionaire"):
        Policy.from_toml(text)


def test_engine_modules_hold_no_policy_figures() -> None:
    # The figures live in the file: none of liaocheng-2024's amounts appears in the engine code.
    engine = Path(__file__).resolve().parents[3] / "services" / "settlement" / "engine"
    code = "\n".join(path.read_text(encoding="utf-8") for path in engine.glob("*.py"))
    for literal in ("120000", "400000", "11000", "0.65", "0.60", "900", "1000"):
        assert literal not in code, literal


def test_tilted_schedule_for_an_identity() -> None:
    from .builders import SPECIAL_PERSONS

    tilted = SPECIAL_PERSONS.catastrophic.schedule(Identity.DESTITUTE)
    assert tilted.entitlement(Decimal("5500")) == 0
    assert tilted.entitlement(Decimal("15500")) == Decimal("6500.00")  # 0.65 × 10,000
    standard = SPECIAL_PERSONS.catastrophic.schedule(Identity.ORPHAN)
    assert standard.entitlement(Decimal("15500")) == Decimal("2700.00")  # 0.60 × 4,500
