"""004 §二(三): the monthly report's balance over random months of changes (hypothesis)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.enrollment.domain import person as domain
from services.enrollment.domain.calendar import Month
from services.enrollment.domain.reports import COUNTS, monthly_report
from services.enrollment.domain.state import PersonState
from shared.events import DeceasedStop, Identity, IdentityChanged

from .special_people import happen, registered, rules_for

pytestmark = pytest.mark.unit

TOWNS = ("潭西街道", "鹧鸪江街道", "洛满镇")
MONTHS = [Month(2024, m) for m in range(1, 13)] + [Month(2025, 1)]

changes = st.lists(
    st.tuples(
        st.integers(1, 13),  # month index of the change (13: January 2025)
        st.sampled_from(list(Identity)),
        st.booleans(),  # assistance flag
    ),
    max_size=5,
)
people = st.lists(
    st.tuples(
        st.sampled_from(list(Identity)),
        st.sampled_from(TOWNS),
        changes,
        st.one_of(st.none(), st.dates(date(2024, 1, 1), date(2025, 1, 31))),  # death
    ),
    min_size=1,
    max_size=8,
)


def build(n: int, identity: Identity, town: str, steps, death: date | None) -> PersonState:
    state = registered(n, on=date(2023, 10, 2), year=2024, identity=identity, organization=town)
    for index, new_identity, flag in sorted(steps, key=lambda s: s[0]):
        first = MONTHS[index - 1].first
        change = IdentityChanged(
            identity=new_identity, medical_assistance=flag, effective_from=first, reason="随机"
        )
        state = happen(state, first, change)
    if death is not None:
        deadline = death + timedelta(days=30)
        state = happen(
            state, death, DeceasedStop(date_of_death=death, settlement_deadline=deadline)
        )
    return state


@settings(max_examples=150, deadline=None)
@given(people)
def test_every_row_balances_and_each_month_starts_where_the_last_one_ended(spec):
    states = [build(n, *person) for n, person in enumerate(spec)]
    previous_end: dict[str, int] = {}
    for month in MONTHS:
        report = monthly_report(states, month, today=date(2025, 6, 1))
        for row in report.rows:
            exits = row.exited_death + row.exited_other
            assert row.at_start + row.added - exits == row.at_end, (month, row)
            assert row.identity_changed <= min(row.at_start, row.at_end)
        starts = {r.organization: r.at_start for r in report.rows}
        for town in set(starts) | set(previous_end):
            if month is not MONTHS[0]:
                assert starts.get(town, 0) == previous_end.get(town, 0), (month, town)
        previous_end = {r.organization: r.at_end for r in report.rows}
        total = report.total
        for name in COUNTS:
            assert getattr(total, name) == sum(getattr(r, name) for r in report.rows)


def test_a_death_counts_as_a_death_exit_in_its_month_and_never_again():
    state = build(1, Identity.SUBSISTENCE, TOWNS[0], [], date(2024, 5, 31))
    may = monthly_report([state], Month(2024, 5), today=date(2024, 7, 1)).total
    june = monthly_report([state], Month(2024, 6), today=date(2024, 7, 1)).total
    assert (may.at_start, may.exited_death, may.at_end) == (1, 1, 0)
    assert (june.at_start, june.exited_death, june.at_end) == (0, 0, 0)


def test_a_person_moving_town_with_the_new_year_leaves_one_and_joins_the_other():
    state = registered(2, on=date(2023, 10, 2), year=2024, identity=Identity.ORPHAN)
    request = domain.Registration(
        certno=state.certno,
        name=state.name,
        category=state.years[2024].category,
        region=state.years[2024].region,
        organization=TOWNS[1],
        insurance_year=2025,
    )
    autumn = date(2024, 10, 2)
    state = happen(state, autumn, *domain.register(state, request, rules_for, autumn))
    report = monthly_report([state], Month(2025, 1), date(2025, 3, 1))
    rows = {r.organization: r for r in report.rows}
    assert (rows[TOWNS[0]].exited_other, rows[TOWNS[1]].added, rows[TOWNS[1]].at_end) == (1, 1, 1)
    assert state.years[2025].identity is Identity.ORPHAN  # the registration kept it
