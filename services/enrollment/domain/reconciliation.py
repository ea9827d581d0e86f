"""The reconciliation of enrollment with settlement, per person (issue 9): the pure part.

Enrollment knows the last stream version it wrote for each person; settlement knows the last one
it applied to its coverage projection. ``compare`` lays the two side by side for one range of
psn_nos (both sides read the same range, so the batch's order does not matter) and names every
difference:

* ``behind`` — settlement applied fewer events than enrollment wrote: it misses the versions after
  its own (republishing them heals it);
* ``missing`` — settlement never heard of the person (republishing the whole stream heals it);
* ``ahead`` — settlement applied a version enrollment never wrote (the stores are out of step: a
  restored backup, or two deployments crossed); nothing to republish, a person must look;
* ``unknown`` — settlement has a person enrollment does not have (the same).

An event takes a moment to travel (the outbox, the broker, the consumer), so a person whose first
missing event was recorded within a grace period is ``in_flight``, not behind: ``triage`` splits
the healable differences so, and only those past the grace period are healed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

Versions = Sequence[tuple[str, int]]
"""(psn_no, last stream version) pairs of one range of persons."""


class Kind(StrEnum):
    """What kind of difference a person shows."""

    BEHIND = "behind"
    MISSING = "missing"
    AHEAD = "ahead"
    UNKNOWN = "unknown"
    IN_FLIGHT = "in_flight"


HEALABLE = frozenset({Kind.BEHIND, Kind.MISSING})


@dataclass(frozen=True, slots=True)
class Difference:
    """One person on whom the two services disagree."""

    psn_no: str
    kind: Kind
    enrollment_version: int  # 0: enrollment has no such person
    settlement_version: int  # 0: settlement has no such person

    @property
    def first_missing(self) -> int:
        """The first version settlement lacks (what a heal republishes from)."""
        return self.settlement_version + 1


def compare(enrollment: Versions, settlement: Versions) -> list[Difference]:
    """The differences between both sides' versions of one range of persons, by psn_no."""
    theirs = dict(settlement)
    found: list[Difference] = []
    for psn_no, ours in enrollment:
        applied = theirs.pop(psn_no, 0)
        if applied == ours:
            continue
        if applied == 0:
            kind = Kind.MISSING
        else:
            kind = Kind.BEHIND if applied < ours else Kind.AHEAD
        found.append(Difference(psn_no, kind, ours, applied))
    found.extend(Difference(psn_no, Kind.UNKNOWN, 0, v) for psn_no, v in theirs.items())
    return sorted(found, key=lambda d: d.psn_no)


def triage(
    differences: Iterable[Difference],
    recorded_at: Mapping[str, datetime],
    *,
    now: datetime,
    grace: timedelta,
) -> list[Difference]:
    """The differences with those still travelling marked ``in_flight``.

    ``recorded_at``: when each behind or missing person's first missing event was recorded.
    """
    triaged: list[Difference] = []
    for d in differences:
        at = recorded_at.get(d.psn_no)
        if d.kind in HEALABLE and at is not None and now - at < grace:
            d = Difference(d.psn_no, Kind.IN_FLIGHT, d.enrollment_version, d.settlement_version)
        triaged.append(d)
    return triaged


@dataclass
class Tally:
    """What one pass found: persons compared and differences by kind."""

    compared: int = 0
    by_kind: dict[Kind, int] = field(default_factory=lambda: dict.fromkeys(Kind, 0))
    healed_events: int = 0

    def add(self, compared: int, differences: Iterable[Difference]) -> None:
        self.compared += compared
        for d in differences:
            self.by_kind[d.kind] += 1

    @property
    def clean(self) -> bool:
        """No difference but those in flight."""
        return not any(n for kind, n in self.by_kind.items() if kind is not Kind.IN_FLIGHT)

    def summary(self) -> dict[str, int | bool]:
        """The pass as one JSON-able line."""
        return {
            "compared": self.compared,
            **{kind.value: n for kind, n in self.by_kind.items()},
            "healed_events": self.healed_events,
            "clean": self.clean,
        }
