"""The policy registry (SPEC §10): one policy per region and year, NO_POLICY elsewhere, and
overlapping files refused at start naming both."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from services.settlement.engine import Policy, PolicyError, PolicyRegistry, Rejected
from services.settlement.engine.policy import POLICY_DIR

from .builders import LIAOCHENG

pytestmark = pytest.mark.unit

SOURCE = (POLICY_DIR / "liaocheng-2024.toml").read_text(encoding="utf-8")
SHIPPED_META = 'region_prefixes = ["3715"]\nyears = [2024, 2025, 2026, 2027]'


def variant(name: str, prefixes: str, years: str) -> str:
    """liaocheng-2024's figures under another name, region and years."""
    text = SOURCE.replace('name = "liaocheng-2024"', f'name = "{name}"', 1)
    assert SHIPPED_META in text
    return text.replace(SHIPPED_META, f"region_prefixes = {prefixes}\nyears = {years}", 1)


LIUNAN = Policy.from_toml(variant("liunan-2025", '["450206"]', "[2025, 2026]"), "liunan.toml")
REGISTRY = PolicyRegistry([LIAOCHENG, LIUNAN])


@pytest.mark.parametrize(
    ("region", "year", "expected"),
    [
        ("371502", 2024, "liaocheng-2024"),
        ("371502", 2027, "liaocheng-2024"),  # no newer figures published: 2024's stay in force
        ("371521", 2025, "liaocheng-2024"),  # every division of the city
        ("371502", 2023, None),
        ("371502", 2028, None),
        ("450206", 2025, "liunan-2025"),
        ("450206", 2026, "liunan-2025"),
        ("450206", 2024, None),
        ("450205", 2025, None),  # another district of the same city: not this file's
        ("110105", 2025, None),
        (None, 2024, "liaocheng-2024"),  # region not yet learnt: the year's only policy
        (None, 2025, None),  # … but never a guess between two
    ],
)
def test_region_by_year_matrix(region: str | None, year: int, expected: str | None) -> None:
    found = REGISTRY.find(region, year)
    assert (found.name if found else None) == expected
    if expected is None:
        with pytest.raises(Rejected) as refusal:
            REGISTRY.resolve(region, year)
        assert refusal.value.code == "NO_POLICY"
        assert str(year) in refusal.value.message
        assert "liaocheng-2024: 3715 2024–2027" in refusal.value.message
        if region:
            assert region in refusal.value.message
    else:
        assert REGISTRY.resolve(region, year).name == expected


def test_the_shipped_file_covers_liaocheng_2024_to_2027() -> None:
    assert LIAOCHENG.meta is not None
    assert LIAOCHENG.meta.region_prefixes == ["3715"]
    assert LIAOCHENG.meta.years == [2024, 2025, 2026, 2027]
    assert PolicyRegistry.load("liaocheng-2024").policies == (LIAOCHENG,)


def test_overlapping_files_are_refused_naming_both(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(variant("city-2025", '["3715"]', "[2025]"), "utf-8")
    (tmp_path / "b.toml").write_text(variant("province", '["37"]', "[2024, 2025]"), "utf-8")
    with pytest.raises(PolicyError) as error:
        PolicyRegistry.load(str(tmp_path))
    message = str(error.value)
    assert str(tmp_path / "a.toml") in message and str(tmp_path / "b.toml") in message
    assert "overlap" in message and "3715 in 2025" in message


def test_the_same_region_in_other_years_is_no_overlap(tmp_path: Path) -> None:
    (tmp_path / "later.toml").write_text(variant("liaocheng-2028", '["3715"]', "[2028]"), "utf-8")
    registry = PolicyRegistry.load(f"liaocheng-2024, {tmp_path / 'later.toml'}")
    assert [registry.resolve("371502", y).name for y in (2027, 2028)] == [
        "liaocheng-2024",
        "liaocheng-2028",
    ]


def test_a_file_without_meta_covers_everything_so_it_overlaps_any_other() -> None:
    without_meta = SOURCE[: SOURCE.index("[meta]")] + SOURCE[SOURCE.index("[basic]") :]
    anywhere = Policy.from_toml(without_meta, "anywhere.toml")
    assert anywhere.meta is None
    alone = PolicyRegistry([anywhere])
    assert alone.resolve("110105", 2031) is anywhere
    with pytest.raises(PolicyError, match=r"anywhere\.toml .* overlap"):
        PolicyRegistry([anywhere, LIUNAN])


def test_two_files_with_one_name_are_refused() -> None:
    again = Policy.from_toml(variant("liaocheng-2024", '["4502"]', "[2030]"), "copy.toml")
    with pytest.raises(PolicyError, match="both named 'liaocheng-2024'"):
        PolicyRegistry([LIAOCHENG, again])


@pytest.mark.parametrize(
    ("prefixes", "years", "field"),
    [
        ('["37A"]', "[2025]", "meta.region_prefixes.0"),
        ("[]", "[2025]", "meta.region_prefixes"),
        ('["3715"]', "[2025, 2025]", "years: 2025 is listed twice"),
        ('["3715"]', "[25]", "meta.years.0"),
    ],
)
def test_a_bad_meta_is_named(prefixes: str, years: str, field: str) -> None:
    with pytest.raises(PolicyError, match=field):
        Policy.from_toml(variant("x", prefixes, years), "bad.toml")


def test_the_content_hash_is_the_files_sha256() -> None:
    digest = hashlib.sha256((POLICY_DIR / "liaocheng-2024.toml").read_bytes()).hexdigest()
    assert LIAOCHENG.sha256 == digest
    assert LIUNAN.sha256 != digest


def test_an_empty_directory_or_setting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no policy file"):
        PolicyRegistry.load(str(tmp_path))
    with pytest.raises(PolicyError, match="no policy configured"):
        PolicyRegistry.load(" , ")
