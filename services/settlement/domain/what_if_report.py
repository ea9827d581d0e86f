"""The what-if report (SPEC §10) as one JSON-ready document: the JSON answer, and what the XLSX
and HTML renderings lay out.

Every amount is a two-decimal string; each group shows the ledger (what was paid), the policy in
force and the draft, both re-run, and the change (draft − in force).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from services.settlement.domain.what_if import SIDES, Run, Tally
from services.settlement.engine import MedType, Policy
from shared.money import fen_text

CAPS = ("basic", "general_outpatient", "accident_outpatient", "catastrophic", "assistance")
MED_TYPES = tuple(str(t) for t in MedType)


@dataclass(frozen=True, slots=True)
class Selection:
    """Which claims were run: the year, the region prefixes (none: every region)."""

    year: int
    regions: tuple[str, ...]
    in_force: tuple[Policy, ...]  # the registry's policies
    draft: Policy


def report(run: Run, selection: Selection) -> dict[str, Any]:
    """The whole report of a merged run."""
    sides = run.sides
    totals = {name: _sum(sides[name].cells.values()) for name in SIDES}
    return {
        "year": selection.year,
        "regions": list(selection.regions),
        "in_force": [_policy(p) for p in selection.in_force],
        "draft": _policy(selection.draft),
        "claims": totals["ledger"].claims,
        "persons": run.persons,
        "exactness": {
            "claims_differing_from_ledger": run.differing,
            "claims_settled_under_another_version": run.other_versions,
        },
        "totals": _columns({name: totals[name] for name in SIDES}),
        "by_med_type": [
            {"med_type": med_type, **_columns(_group(run, lambda key, m=med_type: key[0] == m))}
            for med_type in MED_TYPES
            if any(key[0] == med_type for key in sides["ledger"].cells)
        ],
        "by_hospital_level": [
            {"level": level, **_columns(_group(run, lambda key, v=level: key[1] == v))}
            for level in sorted({key[1] for key in sides["ledger"].cells})
        ],
        "persons_over_catastrophic_threshold": {
            name: sides[name].over_threshold for name in ("in_force", "draft")
        },
        "persons_at_cap": {
            cap: {name: sides[name].at_cap[cap] for name in ("in_force", "draft")} for cap in CAPS
        },
        "refused": {
            name: dict(sorted(sides[name].refused.items())) for name in ("in_force", "draft")
        },
        "largest_changes": [
            {
                "psn_no": change.psn_no,
                "claims": change.claims,
                "in_force": fen_text(change.in_force),
                "draft": fen_text(change.draft),
                "change": fen_text(change.draft - change.in_force),
            }
            for change in sorted(run.largest, key=lambda c: (-c.size, c.psn_no))
        ],
    }


def _policy(policy: Policy) -> dict[str, Any]:
    meta = policy.meta
    return {
        "name": policy.name,
        "sha256": policy.sha256,
        "region_prefixes": None if meta is None else list(meta.region_prefixes),
        "years": None if meta is None else list(meta.years),
    }


def _sum(tallies: Iterable[Tally]) -> Tally:
    total = Tally()
    for tally in tallies:
        total.merge(tally)
    return total


def _group(run: Run, keep: Any) -> dict[str, Tally]:
    return {
        name: _sum(t for key, t in run.sides[name].cells.items() if keep(key)) for name in SIDES
    }


def _amounts(tally: Tally) -> dict[str, Any]:
    return {
        "claims": tally.claims,
        "medfee_sumamt": fen_text(tally.medfee_sumamt),
        "hifp_pay": fen_text(tally.hifp_pay),
        "hifmi_pay": fen_text(tally.hifmi_pay),
        "maf_pay": fen_text(tally.maf_pay),
        "fund_pay_sumamt": fen_text(tally.funds),
        "psn_part_amt": fen_text(tally.patients),
    }


def _columns(tallies: dict[str, Tally]) -> dict[str, Any]:
    """ledger, in_force, draft and the change draft − in force."""
    columns: dict[str, Any] = {name: _amounts(tallies[name]) for name in SIDES}
    now, draft = tallies["in_force"], tallies["draft"]
    change: dict[str, Decimal] = {
        "hifp_pay": draft.hifp_pay - now.hifp_pay,
        "hifmi_pay": draft.hifmi_pay - now.hifmi_pay,
        "maf_pay": draft.maf_pay - now.maf_pay,
        "fund_pay_sumamt": draft.funds - now.funds,
        "psn_part_amt": draft.patients - now.patients,
    }
    columns["change"] = {name: fen_text(value) for name, value in change.items()}
    return columns


# --- the report as tables (the XLSX sheets and the HTML page lay out the same ones) ----------

Cell = str | int | Decimal | None

FIGURES = (
    ("hifp_pay", "Basic fund 390100"),
    ("hifmi_pay", "Catastrophic 390200"),
    ("maf_pay", "Assistance 610100"),
    ("fund_pay_sumamt", "Funds in all"),
    ("psn_part_amt", "Patients pay"),
)
COLUMNS = (("ledger", "Ledger"), ("in_force", "In force"), ("draft", "Draft"), ("change", "Change"))


@dataclass(frozen=True, slots=True)
class Table:
    """A titled table: a header row and rows of cells (amounts as ``Decimal``)."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


def tables(document: dict[str, Any]) -> list[Table]:
    """The report's tables, in reading order."""
    totals = document["totals"]
    total_rows: list[tuple[Cell, ...]] = [
        ("Claims", *(totals[c]["claims"] if c != "change" else None for c, _ in COLUMNS)),
        ("Total charges", *(_money(totals[c].get("medfee_sumamt")) for c, _ in COLUMNS)),
    ]
    total_rows += [(label, *(_money(totals[c][key]) for c, _ in COLUMNS)) for key, label in FIGURES]
    over = document["persons_over_catastrophic_threshold"]
    at_cap = document["persons_at_cap"]
    person_rows: list[tuple[Cell, ...]] = [("Over the catastrophic threshold", *over.values())]
    person_rows += [(f"At the {cap.replace('_', ' ')} cap", *at_cap[cap].values()) for cap in CAPS]
    refused = document["refused"]
    codes = sorted(set(refused["in_force"]) | set(refused["draft"]))
    changes = [
        (c["psn_no"], c["claims"], _money(c["in_force"]), _money(c["draft"]), _money(c["change"]))
        for c in document["largest_changes"]
    ]
    return [
        Table("Totals", ("", *(label for _, label in COLUMNS)), tuple(total_rows)),
        _grouped("By claim type", "Claim type", document["by_med_type"], "med_type"),
        _grouped("By hospital level", "Level", document["by_hospital_level"], "level"),
        Table("Persons", ("", "In force", "Draft"), tuple(person_rows)),
        Table(
            "Refused claims",
            ("Code", "In force", "Draft"),
            tuple((c, refused["in_force"].get(c, 0), refused["draft"].get(c, 0)) for c in codes),
        ),
        Table(
            "Largest changes per person",
            ("Person", "Claims", "Funds in force", "Funds under the draft", "Change"),
            tuple(changes),
        ),
    ]


def _grouped(title: str, label: str, groups: list[dict[str, Any]], key: str) -> Table:
    header = (label, "Claims", *(f"{name}: {side}" for _, name in FIGURES[3:]
                                 for side in ("in force", "draft", "change")))  # fmt: skip
    rows = tuple(
        (str(g[key]), g["ledger"]["claims"],
         *(_money(g[side][figure]) for figure, _ in FIGURES[3:]
           for side in ("in_force", "draft", "change")))
        for g in groups
    )  # fmt: skip
    return Table(title, header, rows)


def _money(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)
