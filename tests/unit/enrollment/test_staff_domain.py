"""Staff roles, scopes and the role table (SPEC §8), as pure rules."""

from __future__ import annotations

import pytest

from services.enrollment.domain.staff import (
    POLICY,
    READS,
    Action,
    Role,
    Source,
    StaffError,
    check_password,
    in_scope,
    login_locked,
    may,
    new_staff,
)

pytestmark = pytest.mark.unit

WRITES = frozenset(Action) - READS - {Action.READ_AUDIT}


@pytest.mark.parametrize(
    ("role", "scope"),
    [
        ("admin", {}),
        ("city", {}),
        ("tax", {}),
        ("auditor", {}),
        ("district", {"region": "371502"}),
        ("district", {"region": "3715"}),
        ("town", {"organization": "Dongchang street"}),
        ("department", {"source": "civil_affairs"}),
    ],
)
def test_each_role_takes_exactly_its_scope(role, scope):
    staff = new_staff("li.wei", role, **scope)
    assert staff.role == Role(role)
    assert staff.scope == scope


@pytest.mark.parametrize(
    ("role", "scope", "reason"),
    [
        ("district", {}, "role district needs --region"),
        ("town", {}, "role town needs --organization"),
        ("department", {}, "role department needs --source"),
        ("admin", {"region": "371502"}, "role admin takes no scope (not --region)"),
        ("town", {"organization": "X", "region": "3715"}, "(not --region)"),
        ("district", {"region": "37A"}, "region code prefix"),
        ("district", {"region": "3715021"}, "region code prefix"),
        ("department", {"source": "tax_bureau"}, "unknown source 'tax_bureau'"),
        ("town", {"organization": "  "}, "organization must be"),
        ("root", {}, "unknown role 'root'; roles: admin, city, district"),
    ],
)
def test_a_wrong_role_or_scope_is_invalid_staff(role, scope, reason):
    with pytest.raises(StaffError) as refused:
        new_staff("li.wei", role, **scope)
    assert refused.value.code == "INVALID_STAFF"
    assert reason in refused.value.message


@pytest.mark.parametrize("name", ["", "li wei", "a" * 65, "tab\tname", "new\nline"])
def test_a_name_with_spaces_or_control_characters_or_too_long_is_refused(name):
    with pytest.raises(StaffError, match="name must be"):
        new_staff(name, "admin")


def test_a_chinese_name_is_a_name():
    assert new_staff("王芳", "auditor").name == "王芳"


def test_a_short_password_is_refused():
    with pytest.raises(StaffError, match="at least 10"):
        check_password("short")
    assert check_password("long enough!") == "long enough!"


def test_admin_may_do_everything_and_only_admin_manages_staff():
    assert all(may(Role.ADMIN, action) for action in Action)
    assert [role for role in Role if may(role, Action.MANAGE_STAFF)] == [Role.ADMIN]


def test_only_admin_and_auditor_read_the_audit_log():
    assert {role for role in Role if may(role, Action.READ_AUDIT)} == {Role.ADMIN, Role.AUDITOR}


def test_the_auditor_reads_everything_and_writes_nothing():
    assert all(may(Role.AUDITOR, action) for action in READS)
    assert not any(may(Role.AUDITOR, action) for action in WRITES)


def test_the_city_reads_everything_and_freezes_carry_over_and_writes_nothing_else():
    assert all(may(Role.CITY, action) for action in READS)
    assert {a for a in WRITES if may(Role.CITY, a)} == {Action.FREEZE_CARRY_OVER}


@pytest.mark.parametrize(
    ("role", "allowed", "refused"),
    [
        (
            Role.DISTRICT,
            [Action.SUBMIT_CARRY_OVER, Action.PAY_SUBSIDIES, Action.BACKDATE_IDENTITY],
            [Action.FREEZE_CARRY_OVER, Action.REGISTER, Action.PUBLISH_BASIC_DATA],
        ),
        (
            Role.TOWN,
            [Action.REGISTER, Action.IMPORT_LIST, Action.RECORD_DEATH, Action.READ_REPORTS],
            [Action.BACKDATE_IDENTITY, Action.PAY_SUBSIDIES, Action.READ_BASIC_DATA],
        ),
        (
            Role.DEPARTMENT,
            [Action.UPLOAD_CARRY_OVER, Action.UPLOAD_ASSISTANCE],
            [Action.READ_PERSONS, Action.REGISTER, Action.SUBMIT_CARRY_OVER],
        ),
        (
            Role.TAX,
            [Action.READ_BASIC_DATA, Action.PUBLISH_BASIC_DATA, Action.READ_UNMATCHED],
            [Action.READ_PERSONS, Action.RETRY_PAYMENTS, Action.EXPORT],
        ),
    ],
)
def test_the_role_table(role, allowed, refused):
    assert all(may(role, action) for action in allowed)
    assert not any(may(role, action) for action in refused)


def test_every_role_has_a_row():
    assert set(POLICY) == set(Role)


def test_a_district_sees_its_region_prefix_only():
    district = new_staff("d", "district", region="3715")
    assert in_scope(district, region="371502")
    assert not in_scope(district, region="371602")
    assert not in_scope(district, organization="Dongchang street")  # no region: refused


def test_a_town_sees_its_organization_only():
    town = new_staff("t", "town", organization="Dongchang street")
    assert in_scope(town, region="371502", organization="Dongchang street")
    assert not in_scope(town, region="371502", organization="Gucheng street")
    assert not in_scope(town, region="371502")


def test_a_department_hands_in_its_own_source_only():
    civil = new_staff("c", "department", source="civil_affairs")
    assert in_scope(civil, source=Source.CIVIL_AFFAIRS)
    assert not in_scope(civil, source=Source.HEALTH)


@pytest.mark.parametrize("role", ["admin", "city", "tax", "auditor"])
def test_a_city_wide_role_sees_every_region(role):
    assert in_scope(new_staff("x", role), region="371602", organization="anywhere")


def test_five_failed_logins_lock_the_name():
    assert not login_locked(4)
    assert login_locked(5)
