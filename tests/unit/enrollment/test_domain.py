"""Enrollment rules, pure: fold a stream, run a command, look at the new events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.enrollment.domain import person as domain
from services.enrollment.domain.errors import DomainError
from services.enrollment.domain.payments import record_payment
from services.enrollment.domain.person import Registration
from services.enrollment.domain.premiums import PremiumRules
from services.enrollment.domain.state import apply, fold
from shared.events import (
    Category,
    Channel,
    DeceasedStop,
    Event,
    Identity,
    IdentityChanged,
    Payer,
    PremiumDueChanged,
    PremiumPaid,
    PremiumRefunded,
    Registered,
)

pytestmark = pytest.mark.unit

TODAY = date(2024, 3, 15)
CERTNO = "11010519491231002X"
STUDENT = "440524188001010014"  # any valid number; the category is what the rules look at
RULES = PremiumRules(
    region="default",
    insurance_year=2024,
    by_category={
        Category.PRESCHOOL: Decimal("360"),
        Category.STUDENT: Decimal("360"),
        Category.UNIVERSITY: Decimal("360"),
        Category.RESIDENT: Decimal("400"),
    },
    exempt_identities=frozenset({Identity.DESTITUTE, Identity.ORPHAN}),
)


def rules_for(region: str, year: int) -> PremiumRules:
    if year not in (2024, 2025):
        raise DomainError("NO_PREMIUM_RULES", f"no rules for {year}")
    return RULES


def request(**overrides) -> Registration:
    fields = {
        "certno": CERTNO,
        "name": "王芳",
        "category": Category.RESIDENT,
        "region": "110105",
        "organization": "朝阳街道",
        "insurance_year": 2024,
    }
    return Registration(**{**fields, **overrides})


def stream(*payloads) -> list[Event]:
    return [
        Event.new(
            p,
            psn_no="P1",
            stream_version=n,
            occurred_at=datetime(2024, 1, 2, tzinfo=UTC),
            actor="system",
        )
        for n, p in enumerate(payloads, start=1)
    ]


def registered_state(*more, year: int = 2024, **overrides):
    [reg] = domain.register(None, request(insurance_year=year, **overrides), rules_for, TODAY)
    return fold(stream(reg, *more))


def paid(amount: str, serial: str = "T1", year: int = 2024) -> PremiumPaid:
    return PremiumPaid(
        insurance_year=year,
        amount=Decimal(amount),
        payer=Payer.INDIVIDUAL,
        channel=Channel.WECHAT,
        tax_serial=serial,
        paid_at=datetime(2024, 1, 5, tzinfo=UTC),
    )


# --- registration ----------------------------------------------------------------------------


def test_register_derives_birth_date_gender_and_premium_from_the_rules():
    [event] = domain.register(None, request(certno=CERTNO.lower()), rules_for, TODAY)
    assert isinstance(event, Registered)
    assert event.certno == CERTNO
    assert event.birth_date == date(1949, 12, 31)
    assert event.gender == "female"
    assert event.premium_due == Decimal("400.00")


def test_registering_the_same_year_twice_returns_no_new_event():
    state = registered_state()
    assert domain.register(state, request(name="another name"), rules_for, TODAY) == []


def test_registering_another_year_adds_it():
    state = registered_state()
    [event] = domain.register(state, request(insurance_year=2025), rules_for, TODAY)
    assert event.insurance_year == 2025
    state = registered_state(event)
    assert sorted(state.years) == [2024, 2025]


def test_exempt_identity_owes_nothing():
    [event] = domain.register(None, request(identity=Identity.DESTITUTE), rules_for, TODAY)
    assert event.premium_due == Decimal("0.00")


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"certno": "11010519491231002"}, "INVALID_CERTNO"),
        ({"certno": "110105194912310021"}, "INVALID_CERTNO"),
        ({"name": "  "}, "INVALID_NAME"),
        ({"region": "1101"}, "INVALID_REGION"),
        ({"insurance_year": 1948}, "INVALID_INSURANCE_YEAR"),
        ({"insurance_year": 2026}, "INVALID_INSURANCE_YEAR"),
    ],
)
def test_register_refuses_bad_input_with_a_stable_code(overrides, code):
    with pytest.raises(DomainError) as info:
        domain.register(None, request(**overrides), rules_for, TODAY)
    assert info.value.code == code
    assert CERTNO not in info.value.message


def test_register_without_rules_for_the_year_is_refused():
    with pytest.raises(DomainError) as info:
        domain.register(None, request(insurance_year=2023), rules_for, TODAY)
    assert info.value.code == "NO_PREMIUM_RULES"


# --- identity --------------------------------------------------------------------------------


def change(state, identity=Identity.DESTITUTE, effective_from=date(2024, 3, 1), ma=False):
    return domain.change_identity(
        state,
        identity=identity,
        medical_assistance=ma,
        effective_from=effective_from,
        reason="civil affairs list 2024-03",
        evidence_ref="MZ-1",
        rules_for=rules_for,
    )


def test_identity_change_that_alters_the_premium_emits_premium_due_changed():
    events = change(registered_state())
    assert isinstance(events[0], IdentityChanged)
    assert events[1] == PremiumDueChanged(
        insurance_year=2024, premium_due=Decimal("0"), reason="identity ordinary -> destitute"
    )
    state = registered_state(*events)
    assert state.identity == Identity.DESTITUTE
    assert state.years[2024].premium_due == Decimal("0.00")
    assert state.years[2024].covered


def test_identity_change_that_keeps_the_premium_emits_only_identity_changed():
    events = change(registered_state(), identity=Identity.SEVERE_DISABILITY)
    assert [type(e) for e in events] == [IdentityChanged]


def test_identity_change_does_not_touch_years_before_it_takes_effect():
    state = registered_state()
    events = change(state, effective_from=date(2025, 1, 1))
    assert [type(e) for e in events] == [IdentityChanged]


def test_the_same_identity_again_is_a_no_op():
    assert change(registered_state(), identity=Identity.ORDINARY) == []


def test_a_medical_assistance_flag_change_alone_is_recorded():
    events = change(registered_state(), identity=Identity.ORDINARY, ma=True)
    assert [type(e) for e in events] == [IdentityChanged]


def test_identity_changes_cannot_be_backdated_before_the_last_one():
    state = registered_state(
        IdentityChanged(
            identity=Identity.ORPHAN,
            medical_assistance=False,
            effective_from=date(2024, 3, 1),
            reason="x",
        )
    )
    with pytest.raises(DomainError) as info:
        change(state, effective_from=date(2024, 2, 1))
    assert info.value.code == "EFFECTIVE_DATE_BEFORE_LAST_CHANGE"


# --- payments --------------------------------------------------------------------------------


def test_payments_reach_coverage_and_refunds_take_it_back():
    state = registered_state(paid("300", "T1"))
    assert not state.years[2024].covered
    state = registered_state(paid("300", "T1"), paid("100", "T2"))
    assert state.years[2024].premium_paid == Decimal("400.00")
    assert state.years[2024].covered
    refund = PremiumRefunded(
        insurance_year=2024,
        amount=Decimal("100"),
        tax_serial="R1",
        refunded_at=datetime(2024, 2, 1, tzinfo=UTC),
    )
    state = registered_state(paid("300", "T1"), paid("100", "T2"), refund)
    assert not state.years[2024].covered


def test_payment_with_a_known_tax_serial_is_a_no_op():
    state = registered_state(paid("400", "T1"))
    assert _pay(state, serial="T1") == []


def test_payment_for_a_year_not_registered_is_refused():
    with pytest.raises(DomainError) as info:
        _pay(registered_state(), year=2025)
    assert info.value.code == "NOT_REGISTERED_FOR_YEAR"


def test_payment_must_be_positive():
    with pytest.raises(DomainError) as info:
        _pay(registered_state(), amount="0")
    assert info.value.code == "INVALID_AMOUNT"


def _pay(state, serial="T9", year=2024, amount="400"):
    return record_payment(
        state,
        insurance_year=year,
        amount=Decimal(amount),
        payer=Payer.INDIVIDUAL,
        channel=Channel.ALIPAY,
        tax_serial=serial,
        paid_at=datetime(2024, 1, 6, tzinfo=UTC),
    )


# --- death -----------------------------------------------------------------------------------


def die(state, dod=date(2024, 1, 31), deadline=None, today=TODAY):
    return domain.record_death(state, date_of_death=dod, settlement_deadline=deadline, today=today)


def test_death_sets_the_deadline_one_month_later_clamped_to_the_month_end():
    [event] = die(registered_state())
    assert event == DeceasedStop(
        date_of_death=date(2024, 1, 31), settlement_deadline=date(2024, 2, 29)
    )


def test_the_deadline_may_be_extended_up_to_three_months():
    state = registered_state(*die(registered_state()))
    [event] = die(state, deadline=date(2024, 4, 30))
    assert event.settlement_deadline == date(2024, 4, 30)
    with pytest.raises(DomainError) as info:
        die(state, deadline=date(2024, 5, 1))
    assert info.value.code == "DEADLINE_BEYOND_LIMIT"


def test_a_first_record_may_not_exceed_the_limit_either():
    with pytest.raises(DomainError) as info:
        die(registered_state(), dod=date(2024, 1, 10), deadline=date(2024, 4, 11))
    assert info.value.code == "DEADLINE_BEYOND_LIMIT"


def test_the_same_death_again_is_a_no_op_and_another_date_is_refused():
    state = registered_state(*die(registered_state()))
    assert die(state) == []
    with pytest.raises(DomainError) as info:
        die(state, dod=date(2024, 1, 30))
    assert info.value.code == "ALREADY_DECEASED"


def test_nothing_but_the_deadline_is_accepted_after_death():
    state = registered_state(*die(registered_state()))
    for attempt in (
        lambda: change(state),
        lambda: _pay(state),
        lambda: domain.register(state, request(insurance_year=2025), rules_for, TODAY),
    ):
        with pytest.raises(DomainError) as info:
            attempt()
        assert info.value.code == "ALREADY_DECEASED"


def test_a_death_in_the_future_is_refused():
    with pytest.raises(DomainError) as info:
        die(registered_state(), dod=date(2024, 3, 16))
    assert info.value.code == "INVALID_DATE_OF_DEATH"


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 11, 30), 3, date(2025, 2, 28)),
        (date(2024, 12, 15), 1, date(2025, 1, 15)),
    ],
)
def test_add_months(day, months, expected):
    assert domain.add_months(day, months) == expected


def test_fold_of_an_empty_stream_is_none_and_versions_follow_the_stream():
    assert fold([]) is None
    state = registered_state(paid("1", "A"), paid("2", "B"))
    assert state.version == 3


@given(
    dod=st.dates(min_value=date(1950, 1, 1), max_value=TODAY),
    asks=st.lists(st.one_of(st.none(), st.integers(min_value=-40, max_value=120)), max_size=6),
)
def test_whatever_is_asked_the_deadline_stays_between_death_and_three_months(dod, asks):
    state = registered_state(*die(registered_state(), dod=dod))
    limit = domain.add_months(dod, 3)
    for days in asks:
        wanted = None if days is None else dod + timedelta(days=days)
        try:
            new = die(state, dod=dod, deadline=wanted)
        except DomainError as exc:
            assert exc.code in {"DEADLINE_BEYOND_LIMIT", "DEADLINE_BEFORE_DEATH"}
            continue
        for payload in new:
            event = Event.new(
                payload, psn_no="P1", stream_version=state.version + 1, actor="system"
            )
            state = apply(state, event)
        assert state.date_of_death == dod
        assert dod <= state.settlement_deadline <= limit
