"""The enrollment console's sums are kept by adding what each event changes: whatever the order
and batching of events, the sums equal those of everyone's final lines."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.enrollment.domain.console_lines import (
    PersonView,
    Standing,
    YearLine,
    apply,
    collection_changes,
    special_changes,
)

pytestmark = pytest.mark.unit

REGISTERED = {
    "insurance_year": 2027,
    "region": "371502",
    "organization": "Dongchang street",
    "category": "resident",
    "premium_due": "400.00",
    "identity": "ordinary",
    "medical_assistance": False,
}


def test_a_year_of_one_person():
    view, _ = apply(PersonView(), "registered", REGISTERED)
    assert view.lines[2027] == YearLine("371502", "Dongchang street", "resident", 40000)
    view, moved = apply(
        view,
        "premium-paid",
        {"insurance_year": 2027, "amount": "400.00", "paid_at": "2026-10-31T23:30:00+00:00"},
    )
    assert moved.day == date(2026, 11, 1)  # China time
    assert moved.fen == 40000 and view.lines[2027].covered
    view, moved = apply(
        view,
        "premium-refunded",
        {"insurance_year": 2027, "amount": "100.00", "refunded_at": "2026-11-02T08:00:00+08:00"},
    )
    assert moved.fen == -10000 and not view.lines[2027].covered
    view, _ = apply(view, "premium-due-changed", {"insurance_year": 2027, "premium_due": "0.00"})
    assert view.lines[2027].covered and view.lines[2027].due == 0
    view, _ = apply(
        view, "identity-changed", {"identity": "subsistence", "medical_assistance": True}
    )
    assert view.standing.special and view.standing.key == (
        "subsistence",
        "371502",
        "Dongchang street",
    )
    same, moved = apply(view, "premium-paid", {"insurance_year": 2030, "amount": "1.00"})
    assert same == view and moved is None  # no registration that year: nothing to count


def test_flagged_for_assistance_only_counts_as_such():
    standing = Standing("ordinary", True, "371502", "x", 2027)
    assert standing.special and standing.key[0] == "medical_assistance"
    assert special_changes(Standing(), standing) == {standing.key: 1}
    assert special_changes(standing, standing) == {}


EVENTS = st.one_of(
    st.builds(
        lambda year, org, cat, due: (
            "registered",
            {
                **REGISTERED,
                "insurance_year": year,
                "organization": org,
                "category": cat,
                "premium_due": due,
            },
        ),
        st.sampled_from([2026, 2027]),
        st.sampled_from(["A", "B"]),
        st.sampled_from(["resident", "student"]),
        st.sampled_from(["0.00", "360.00", "400.00"]),
    ),
    st.builds(
        lambda year, amount: (
            "premium-paid",
            {"insurance_year": year, "amount": amount, "paid_at": "2026-10-01T10:00:00+08:00"},
        ),
        st.sampled_from([2026, 2027]),
        st.sampled_from(["100.00", "360.00"]),
    ),
    st.builds(
        lambda year, due: ("premium-due-changed", {"insurance_year": year, "premium_due": due}),
        st.sampled_from([2026, 2027]),
        st.sampled_from(["0.00", "200.00"]),
    ),
    st.builds(
        lambda identity, flag: (
            "identity-changed",
            {"identity": identity, "medical_assistance": flag},
        ),
        st.sampled_from(["ordinary", "subsistence", "orphan"]),
        st.booleans(),
    ),
)


def nonzero(counts: Counter) -> dict:
    """The counts that are not zero (a negative one is a bug and must show)."""
    return {key: n for key, n in counts.items() if n}


def sums_of(views):
    collection, special = Counter(), Counter()
    for view in views:
        for year, line in view.lines.items():
            for name, n in zip(
                ("people", "due", "paid", "covered"),
                (1, line.due, line.paid, int(line.covered)),
                strict=True,
            ):
                collection[(year, line.key, name)] += n
        if view.standing.special:
            special[view.standing.key] += 1
    return nonzero(collection), nonzero(special)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), EVENTS), max_size=40), st.integers(1, 7))
def test_adding_each_batchs_changes_gives_the_sums_of_the_final_lines(events, batch):
    views = [PersonView() for _ in range(4)]
    collection, special = Counter(), Counter()
    for start in range(0, len(events), batch):  # a catch-up's chunk of events at a time
        before = list(views)
        for who, (kind, payload) in events[start : start + batch]:
            views[who], _ = apply(views[who], kind, payload)
        for old, new in zip(before, views, strict=True):
            for (year, key), sums in collection_changes(old, new).items():
                for name in ("people", "due", "paid", "covered"):
                    collection[(year, key, name)] += getattr(sums, name)
            for key, n in special_changes(old.standing, new.standing).items():
                special[key] += n
    assert (nonzero(collection), nonzero(special)) == sums_of(views)
