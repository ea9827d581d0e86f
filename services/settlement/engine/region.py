"""A region's codes for the national platform's interface are data (SPEC §9): one validated
TOML file per region beside the policies (``policies/regions/NAME.toml``).

The NHSA gateway translates with it, both ways: ``med_type`` codes (the national 11, 14, 21 and
the region's accident-outpatient code), the fund codes of ``setldetail`` (``fund_pay_type``), the
person types and special identities of 1101, the insurance states, the accumulator types of
5206 and the claim types of a clearing type (3201). Loading a file that misses a code or gives
two things one code fails with ``RegionError`` naming the field.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from services.settlement.engine.accumulator import Accumulator
from services.settlement.engine.claim import MedType
from shared.events import Category, Identity

REGION_DIR = Path(__file__).resolve().parent.parent / "policies" / "regions"
FUND_FIELDS = {"basic": "hifp_pay", "catastrophic": "hifmi_pay", "assistance": "maf_pay"}
"""Each fund of the waterfall and the result field holding what it paid."""
MEDICAL_ASSISTANCE = "medical_assistance"
"""The ``psn_idet_type`` key of the medical-assistance flag (it is not an identity)."""

Code = str


class RegionError(ValueError):
    """A region file that cannot be used; the message names the file and the field."""


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Fund(_Part):
    """A fund's code in ``setldetail`` and its name."""

    code: Code = Field(min_length=1)
    name: str = Field(min_length=1)


class InsuranceStates(_Part):
    """``psn_insu_stas``: covered, paused (not registered or not paid), terminated (death)."""

    insured: Code
    paused: Code
    terminated: Code


def _distinct(name: str, codes: dict[str, Code]) -> None:
    seen: dict[Code, str] = {}
    for key, code in codes.items():
        if code in seen:
            raise ValueError(f"{name}: {key} and {seen[code]} have the same code {code}")
        seen[code] = key


def _complete(name: str, codes: dict[str, Any], wanted: list[str]) -> None:
    missing = [key for key in wanted if key not in codes]
    if missing:
        raise ValueError(f"{name}: no code for {missing[0]}")
    extra = sorted(set(codes) - set(wanted))
    if extra:
        raise ValueError(f"{name}: unknown key {extra[0]}")


class Region(_Part):
    """A region's codes. Build with ``Region.from_toml`` or ``load_region``."""

    name: str = Field(min_length=1)
    description: str = ""
    admdvs: Code = Field(pattern=r"^\d{6}$")
    insutype: Code = Field(min_length=1)
    med_type: dict[str, Code]
    clr_type: dict[Code, list[MedType]] = Field(default_factory=dict)
    fund_pay_type: dict[str, Fund]
    psn_type: dict[str, Code]
    psn_idet_type: dict[str, Code]
    psn_insu_stas: InsuranceStates
    cum_type_code: dict[str, Code]

    @model_validator(mode="after")
    def _every_code(self) -> Region:
        _complete("med_type", self.med_type, [str(t) for t in MedType])
        _distinct("med_type", self.med_type)
        _complete("fund_pay_type", self.fund_pay_type, list(FUND_FIELDS))
        _distinct("fund_pay_type", {k: f.code for k, f in self.fund_pay_type.items()})
        _complete("psn_type", self.psn_type, [str(c) for c in Category])
        special = [str(i) for i in Identity if i is not Identity.ORDINARY]
        _complete("psn_idet_type", self.psn_idet_type, [*special, MEDICAL_ASSISTANCE])
        _distinct("psn_idet_type", self.psn_idet_type)
        _complete("cum_type_code", self.cum_type_code, list(Accumulator._fields))
        _distinct("cum_type_code", self.cum_type_code)
        return self

    # --- both ways ------------------------------------------------------------------------------

    def med_type_code(self, med_type: str) -> Code:
        """The platform's ``med_type`` code of one of our claim types."""
        return self.med_type[med_type]

    def med_type_named(self, code: str) -> MedType | None:
        """Our claim type of a platform ``med_type`` code (None: not one this region settles)."""
        return self._med_types.get(code)

    def fund(self, field: str) -> Fund:
        """The fund paying a result field (``hifp_pay``, ``hifmi_pay``, ``maf_pay``)."""
        return self._funds[field]

    def identity_code(self, identity: str) -> Code | None:
        """The ``psn_idet_type`` of a special identity (None for an ordinary resident)."""
        return self.psn_idet_type.get(identity)

    def clearing_med_types(self, clr_type: str | None) -> frozenset[MedType] | None:
        """The claim types a clearing type holds; None: every type (no or unknown clr_type)."""
        if not clr_type or clr_type not in self.clr_type:
            return None
        return frozenset(self.clr_type[clr_type])

    @functools.cached_property
    def _med_types(self) -> dict[Code, MedType]:
        return {code: MedType(name) for name, code in self.med_type.items()}

    @functools.cached_property
    def _funds(self) -> dict[str, Fund]:
        return {field: self.fund_pay_type[key] for key, field in FUND_FIELDS.items()}

    # --- loading --------------------------------------------------------------------------------

    @classmethod
    def from_toml(cls, text: str, source: str = "<region>") -> Region:
        """Parse and validate a region file's text; ``RegionError`` names the bad field."""
        try:
            data: dict[str, Any] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RegionError(f"{source}: not valid TOML: {exc}") from None
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = []
            for error in exc.errors(include_url=False):
                field = ".".join(str(part) for part in error["loc"]) or "region"
                problems.append(f"{field}: {str(error['msg']).removeprefix('Value error, ')}")
            raise RegionError(f"{source}: " + "; ".join(problems)) from None


@functools.cache
def load_region(name_or_path: str) -> Region:
    """A shipped region by name (``"liaocheng"``), or a file by path; cached."""
    candidate = Path(name_or_path)
    if candidate.suffix != ".toml":
        if "/" in name_or_path or not name_or_path:
            raise RegionError(f"no such region: {name_or_path!r}")
        candidate = REGION_DIR / f"{name_or_path}.toml"
    if not candidate.is_file():
        shipped = sorted(p.stem for p in REGION_DIR.glob("*.toml"))
        raise RegionError(f"no such region: {name_or_path!r} (shipped: {', '.join(shipped)})")
    return Region.from_toml(candidate.read_text(encoding="utf-8"), source=str(candidate))
