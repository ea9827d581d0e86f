"""The reconciliation's diff, without a database: each kind of difference, the grace period for
events still travelling, and a property: the differences are exactly the persons the two sides
disagree on, each named by the right kind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.enrollment.domain.reconciliation import Difference, Kind, Tally, compare, triage

pytestmark = pytest.mark.unit

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_agreeing_sides_show_no_difference():
    assert compare([("P1", 3), ("P2", 1)], [("P2", 1), ("P1", 3)]) == []


def test_each_kind_of_difference_is_named_with_both_versions():
    enrollment = [("P1", 5), ("P2", 2), ("P3", 1), ("P4", 4)]
    settlement = [("P1", 3), ("P3", 2), ("P4", 4), ("P9", 7)]
    assert compare(enrollment, settlement) == [
        Difference("P1", Kind.BEHIND, 5, 3),
        Difference("P2", Kind.MISSING, 2, 0),
        Difference("P3", Kind.AHEAD, 1, 2),
        Difference("P9", Kind.UNKNOWN, 0, 7),
    ]


def test_a_heal_starts_from_the_first_version_settlement_lacks():
    behind, missing = compare([("P1", 5), ("P2", 2)], [("P1", 3)])
    assert behind.first_missing == 4
    assert missing.first_missing == 1


def test_a_person_whose_first_missing_event_is_recent_is_in_flight_not_behind():
    found = compare([("P1", 5), ("P2", 2), ("P3", 1)], [("P1", 3), ("P3", 2)])
    recorded = {"P1": NOW - timedelta(seconds=5), "P2": NOW - timedelta(minutes=5)}
    triaged = triage(found, recorded, now=NOW, grace=timedelta(seconds=30))
    assert [(d.psn_no, d.kind) for d in triaged] == [
        ("P1", Kind.IN_FLIGHT),
        ("P2", Kind.MISSING),
        ("P3", Kind.AHEAD),  # never in flight: no event of enrollment's explains it
    ]
    assert triage(found, recorded, now=NOW, grace=timedelta(0)) == found


def test_the_tally_is_clean_with_only_events_in_flight():
    tally = Tally()
    tally.add(3, [Difference("P1", Kind.IN_FLIGHT, 2, 1)])
    assert tally.clean
    tally.add(2, [Difference("P2", Kind.UNKNOWN, 0, 1)])
    assert not tally.clean
    assert tally.summary() == {
        "compared": 5,
        "behind": 0,
        "missing": 0,
        "ahead": 0,
        "unknown": 1,
        "in_flight": 1,
        "healed_events": 0,
        "clean": False,
    }


persons = st.dictionaries(
    st.text("ABCDEF0123456789", min_size=1, max_size=4), st.integers(1, 6), max_size=30
)


@given(persons, persons)
def test_the_differences_are_exactly_the_disagreements(ours, theirs):
    found = {d.psn_no: d for d in compare(sorted(ours.items()), list(theirs.items()))}
    disagreeing = {p for p in ours.keys() | theirs.keys() if ours.get(p) != theirs.get(p)}
    assert set(found) == disagreeing
    for psn_no, d in found.items():
        assert (d.enrollment_version, d.settlement_version) == (
            ours.get(psn_no, 0),
            theirs.get(psn_no, 0),
        )
        if psn_no not in ours:
            assert d.kind is Kind.UNKNOWN
        elif psn_no not in theirs:
            assert d.kind is Kind.MISSING
        else:
            assert d.kind is (Kind.BEHIND if theirs[psn_no] < ours[psn_no] else Kind.AHEAD)
    assert list(found) == sorted(found)
