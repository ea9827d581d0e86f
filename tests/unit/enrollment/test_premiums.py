"""Premium rules are data: the shipped files, the lookup order, and what each person owes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.enrollment.adapters.premium_files import NoPremiumRules, load_rules
from services.enrollment.domain.premiums import PremiumRulesError, parse_rules, premium_due
from services.enrollment.settings import PREMIUM_RULES_DIR
from shared.events import Category, Identity

pytestmark = pytest.mark.unit


@pytest.fixture
def rules_2024():
    return load_rules(PREMIUM_RULES_DIR, "371502", 2024)


@pytest.mark.parametrize("category", [Category.STUDENT, Category.PRESCHOOL, Category.UNIVERSITY])
def test_2024_students_preschool_and_university_owe_360(rules_2024, category):
    assert premium_due(rules_2024, category, Identity.ORDINARY) == Decimal("360.00")


@pytest.mark.parametrize(
    "identity",
    [Identity.DESTITUTE, Identity.ORPHAN, Identity.SUBSISTENCE, Identity.POVERTY_REGISTERED],
)
@pytest.mark.parametrize("category", list(Category))
def test_government_funded_identities_owe_nothing(rules_2024, identity, category):
    assert premium_due(rules_2024, category, identity) == Decimal("0.00")


@pytest.mark.parametrize(
    "identity", [Identity.SEVERE_DISABILITY, Identity.LOW_INCOME_ELDERLY, Identity.FAMILY_PLANNING]
)
def test_other_special_persons_pay_then_may_be_subsidised(rules_2024, identity):
    assert premium_due(rules_2024, Category.STUDENT, identity) == Decimal("360.00")


def test_resident_amount_is_a_parameter_of_the_file(rules_2024):
    assert rules_2024.by_category[Category.RESIDENT] == Decimal("400")


def test_a_region_file_wins_over_the_default(tmp_path):
    body = (PREMIUM_RULES_DIR / "default-2024.toml").read_text()
    (tmp_path / "default-2024.toml").write_text(body)
    (tmp_path / "371502-2024.toml").write_text(body.replace('resident = "400"', 'resident = "380"'))
    load_rules.cache_clear()
    own = load_rules(tmp_path, "371502", 2024)
    other = load_rules(tmp_path, "371521", 2024)
    assert premium_due(own, Category.RESIDENT, Identity.ORDINARY) == Decimal("380.00")
    assert premium_due(other, Category.RESIDENT, Identity.ORDINARY) == Decimal("400.00")


def test_no_file_for_the_year_is_an_error(tmp_path):
    with pytest.raises(NoPremiumRules):
        load_rules(tmp_path, "371502", 1999)


@pytest.mark.parametrize(
    "text",
    [
        'region = "x"\ninsurance_year = 2024\n[premium]\nstudent = "360"\n',  # categories missing
        'region = "x"\ninsurance_year = 2024\n[premium]\npreschool = 1.5\n',  # float amount
        'region = "x"\ninsurance_year = 2024\nexempt_identities = ["nobody"]\n[premium]\n',
        "not toml at all [",
    ],
)
def test_malformed_rules_are_refused(text):
    with pytest.raises(PremiumRulesError):
        parse_rules(text)


def test_every_shipped_file_parses_and_names_its_year():
    for path in PREMIUM_RULES_DIR.glob("*.toml"):
        rules = parse_rules(path.read_text())
        assert path.stem == f"{rules.region}-{rules.insurance_year}"
