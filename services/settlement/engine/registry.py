"""The policy registry (SPEC §10): the policy in force for a person's region and a year.

Every policy file declares in ``[meta]`` the region-code prefixes and insurance years it covers.
A claim is adjudicated under the one policy covering the person's registered region and the
claim's insurance year; none is ``NO_POLICY``. Two files covering the same region and year are
refused when the registry is built — the service does not start — naming both files: which one
applies must never depend on the order files are read in. A prefix nested in another (``37``
and ``3715``) overlaps too.

A file without ``[meta]`` covers every region and year (the one-policy setups of old:
``SETTLEMENT_POLICY`` naming a single file, ``settlement adjudicate --policy``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from services.settlement.engine.errors import Rejected, RejectionCode
from services.settlement.engine.policy import Policy, PolicyError, load_policy


class PolicyRegistry:
    """The policies a service runs with, checked to be disjoint; immutable once built."""

    def __init__(self, policies: Iterable[Policy]) -> None:
        self.policies = tuple(policies)
        if not self.policies:
            raise PolicyError("no policy configured")
        _check_names(self.policies)
        _check_overlaps(self.policies)
        self._found: dict[tuple[str | None, int], Policy | None] = {}

    @classmethod
    def load(cls, setting: str) -> PolicyRegistry:
        """From ``SETTLEMENT_POLICY``: comma-separated shipped names, ``.toml`` files or
        directories (every ``*.toml`` in one)."""
        policies: list[Policy] = []
        for item in (part.strip() for part in setting.split(",")):
            if not item:
                continue
            path = Path(item)
            if path.is_dir():
                files = sorted(path.glob("*.toml"))
                if not files:
                    raise PolicyError(f"{path}: no policy file (*.toml) in this directory")
                policies.extend(Policy.from_file(file) for file in files)
            else:
                policies.append(load_policy(item))
        return cls(policies)

    def find(self, region: str | None, year: int) -> Policy | None:
        """The policy in force, or None.

        A person whose region settlement has not learnt (a projection folded before regions
        were kept; ``settlement rebuild`` fills them) gets the year's policy when only one
        policy covers that year anywhere — never a guess among several.
        """
        key = (region, year)
        if key not in self._found:
            found = [p for p in self.policies if p.covers(region, year)]
            if not found and region is None:
                found = [p for p in self.policies if p.meta is None or year in p.meta.years]
            self._found[key] = found[0] if len(found) == 1 else None
        return self._found[key]

    def resolve(self, region: str | None, year: int) -> Policy:
        """The policy in force; ``Rejected(NO_POLICY)`` naming the region, year and coverage."""
        policy = self.find(region, year)
        if policy is None:
            where = f"region {region}" if region else "a person of unknown region"
            raise Rejected(
                RejectionCode.NO_POLICY,
                f"no benefit policy is in force for {where} in {year} (policies: "
                f"{self.describe()})",
            )
        return policy

    def by_name(self, name: str) -> Policy | None:
        """A registered policy by its ``name``."""
        return next((p for p in self.policies if p.name == name), None)

    def describe(self) -> str:
        """Each policy and what it covers, for messages: ``liaocheng-2024: 3715 2024–2027``."""
        return "; ".join(coverage_text(p) for p in self.policies)


def coverage_text(policy: Policy) -> str:
    """``name: prefixes years`` of one policy (``every region and year`` without meta)."""
    if policy.meta is None:
        return f"{policy.name}: every region and year"
    years = sorted(policy.meta.years)
    span = (
        f"{years[0]}–{years[-1]}"
        if years == list(range(years[0], years[-1] + 1)) and len(years) > 1
        else ", ".join(str(y) for y in years)
    )
    return f"{policy.name}: {', '.join(policy.meta.region_prefixes)} {span}"


def _check_names(policies: tuple[Policy, ...]) -> None:
    # The name is what a settlement records: two files may not share one.
    seen: dict[str, Policy] = {}
    for policy in policies:
        other = seen.setdefault(policy.name, policy)
        if other is not policy:
            raise PolicyError(
                f"{other.source} and {policy.source} are both named {policy.name!r}: a policy "
                f"name may be used once"
            )


def _check_overlaps(policies: tuple[Policy, ...]) -> None:
    for index, first in enumerate(policies):
        for second in policies[index + 1 :]:
            clash = _overlap(first, second)
            if clash is not None:
                raise PolicyError(
                    f"{first.source} ({first.name}) and {second.source} ({second.name}) overlap: "
                    f"both cover {clash}; a region and year may be under one policy only"
                )


def _overlap(first: Policy, second: Policy) -> str | None:
    """Where two policies both apply (``region 3715 in 2025``), or None."""
    if first.meta is None or second.meta is None:
        # A file without meta covers everything, so it overlaps whatever the other covers.
        bounded = first.meta or second.meta
        if bounded is None:
            return "every region and year"
        return f"region {bounded.region_prefixes[0]} in {min(bounded.years)}"
    years = sorted(set(first.meta.years) & set(second.meta.years))
    if not years:
        return None
    for a in first.meta.region_prefixes:
        for b in second.meta.region_prefixes:
            if a.startswith(b) or b.startswith(a):
                return f"region {max(a, b, key=len)} in {years[0]}"
    return None
