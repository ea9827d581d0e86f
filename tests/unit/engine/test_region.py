"""Region files: the gateway's codes are data, validated like a policy (SPEC §9)."""

from __future__ import annotations

import pytest

from services.settlement.engine import MedType
from services.settlement.engine.region import (
    REGION_DIR,
    Region,
    RegionError,
    load_region,
)

pytestmark = pytest.mark.unit

LIAOCHENG = (REGION_DIR / "liaocheng.toml").read_text(encoding="utf-8")


def test_the_shipped_region_speaks_the_national_codes() -> None:
    region = load_region("liaocheng")
    assert region.med_type_named("11") is MedType.GENERAL_OUTPATIENT
    assert region.med_type_named("14") is MedType.CHRONIC_OUTPATIENT
    assert region.med_type_named("21") is MedType.INPATIENT
    accident = region.med_type_code("accident_outpatient")
    assert region.med_type_named(accident) is MedType.ACCIDENT_OUTPATIENT
    assert region.med_type_named("99") is None
    assert [region.fund(f).code for f in ("hifp_pay", "hifmi_pay", "maf_pay")] == [
        "390100",
        "390200",
        "610100",
    ]
    assert region.clearing_med_types("21") == {MedType.INPATIENT}
    assert region.clearing_med_types("") is None
    assert region.identity_code("ordinary") is None


def test_a_missing_code_is_named() -> None:
    text = LIAOCHENG.replace('inpatient = "21"', "")
    with pytest.raises(RegionError, match="med_type: no code for inpatient"):
        Region.from_toml(text)


def test_two_things_with_one_code_are_refused() -> None:
    text = LIAOCHENG.replace('accident_outpatient = "9903"', 'accident_outpatient = "11"')
    with pytest.raises(RegionError, match="same code 11"):
        Region.from_toml(text)


def test_an_unknown_region_names_the_shipped_ones() -> None:
    with pytest.raises(RegionError, match="shipped: liaocheng"):
        load_region("atlantis")
