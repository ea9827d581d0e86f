"""A benefit policy is data: one validated TOML file per region and year (SPEC §5).

Every figure the waterfall uses — deductibles, ratios, caps, the chronic-disease list, the
catastrophic bands — comes from the file; the engine holds no literal of any policy. Loading a
file that breaks a rule (bands out of order, a ratio above 1, a level missing) fails with
``PolicyError`` naming the field.

File format (amounts and ratios as TOML numbers, read exactly as ``Decimal``)::

    name = "liaocheng-2024"
    [meta]                       region_prefixes = ["3715"], years = [2024, 2025]  (SPEC §10;
                                 optional: a file without it covers every region and year)
    [basic]                      annual_cap — shared by inpatient and chronic outpatient
    [inpatient]                  stay_deductible_factors = [1, 0.5, 0]  (last one repeats)
    [inpatient.levels.N]         deductible, ratio; optional [inpatient.levels.N.public]
    [chronic_outpatient]         ratio, diseases = [{ codes = "C00-C97", name = "..." }, ...]
    [general_outpatient]         ratio, annual_cap, primary_care_only
    [accident_outpatient]        deductible_per_visit, ratio, annual_cap
    [catastrophic]               annual_cap, bands = [{ from = AMOUNT, ratio = RATIO }, ...]
    [catastrophic.tilt.IDENTITY] threshold, ratios = [...]   (optional, special persons)
    [assistance]                 applies_to = [...]            (optional third pass, fund 610100)
    [assistance.identities.IDENTITY] ratio, annual_cap ; [assistance.flagged] for the
                                 medical-assistance flag of a person with no identity rule
"""

from __future__ import annotations

import functools
import hashlib
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from services.settlement.engine.catastrophic import Schedule
from services.settlement.engine.claim import MedType
from shared.events import Identity
from shared.money import quantize

POLICY_DIR = Path(__file__).resolve().parent.parent / "policies"
HOSPITAL_LEVELS = (1, 2, 3)
_MAX_REMEMBERED_CODES = 50_000


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and the field."""


Ratio = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)]
# Every amount is held with two decimals (``decimal_places`` refuses more, so rounding changes
# nothing), so every amount computed from it prints as yuan.fen.
Amount = Annotated[
    Decimal, Field(ge=0, allow_inf_nan=False, decimal_places=2), AfterValidator(quantize)
]


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class LevelTerms(_Part):
    """Deductible and ratio of a hospital level."""

    deductible: Amount
    ratio: Ratio


class InpatientLevel(LevelTerms):
    """A level's terms, with the better terms of its public designated hospitals if any."""

    public: LevelTerms | None = None


RegionPrefix = Annotated[str, Field(pattern=r"^[0-9]{1,6}$")]
InsuranceYear = Annotated[int, Field(ge=1990, le=2100)]


class Meta(_Part):
    """Where and when a policy is in force: the administrative-division code prefixes of the
    persons' registered regions, and the insurance years (SPEC §10)."""

    region_prefixes: list[RegionPrefix] = Field(min_length=1)
    years: list[InsuranceYear] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> Meta:
        named: tuple[tuple[str, list[str]], ...] = (
            ("region_prefixes", self.region_prefixes),
            ("years", [str(year) for year in self.years]),
        )
        for field, values in named:
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise ValueError(f"{field}: {repeated[0]} is listed twice")
        return self

    def covers(self, region: str, year: int) -> bool:
        """Whether a person registered in ``region`` is under this policy in ``year``."""
        return year in self.years and region.startswith(tuple(self.region_prefixes))


class BasicFund(_Part):
    annual_cap: Amount


class Inpatient(_Part):
    stay_deductible_factors: list[Ratio] = Field(min_length=1)
    levels: dict[int, InpatientLevel]

    @model_validator(mode="after")
    def _every_level(self) -> Inpatient:
        missing = [level for level in HOSPITAL_LEVELS if level not in self.levels]
        if missing:
            raise ValueError(f"levels: hospital level {missing[0]} is missing")
        extra = sorted(set(self.levels) - set(HOSPITAL_LEVELS))
        if extra:
            raise ValueError(f"levels: unknown hospital level {extra[0]}")
        return self

    def terms(self, level: int, public: bool) -> LevelTerms:
        """The deductible and ratio at a hospital of this level and public status."""
        terms = self.levels[level]
        if public and terms.public is not None:
            return terms.public
        return terms

    def deductible_factor(self, stay_number: int) -> Decimal:
        """The share of the deductible due for the person's n-th stay of the year (1-based)."""
        factors = self.stay_deductible_factors
        return factors[min(stay_number, len(factors)) - 1]


class Disease(_Part):
    """ICD-10 codes by prefix: ``"N18"``, ``"D68.1"`` or a range of categories ``"C00-C97"``."""

    codes: str = Field(pattern=r"^[A-Z][0-9]{2}(\.[0-9A-Z]+)?(-[A-Z][0-9]{2})?$")
    name: str = ""

    def covers(self, code: str) -> bool:
        """Whether a normalised ICD-10 code (upper case, no dot) falls under this entry."""
        first, _, last = self.codes.partition("-")
        if last:
            category = code[:3]
            return len(category) == 3 and category[1:].isdigit() and first <= category <= last
        return code.startswith(first.replace(".", ""))


class ChronicOutpatient(_Part):
    ratio: Ratio
    diseases: list[Disease] = Field(min_length=1)

    def covers(self, dise_codg: str | None) -> bool:
        """Whether the diagnosis is on the list of chronic and special diseases."""
        if not dise_codg:
            return False
        verdicts = self._verdicts
        verdict = verdicts.get(dise_codg)
        if verdict is None:
            code = dise_codg.strip().upper().replace(".", "")
            verdict = any(disease.covers(code) for disease in self.diseases)
            if len(verdicts) < _MAX_REMEMBERED_CODES:
                verdicts[dise_codg] = verdict
        return verdict

    @functools.cached_property
    def _verdicts(self) -> dict[str, bool]:
        # Diagnoses repeat endlessly (a dialysis patient comes three times a week): remember them.
        return {}


class GeneralOutpatient(_Part):
    ratio: Ratio
    annual_cap: Amount
    primary_care_only: bool = True


class AccidentOutpatient(_Part):
    deductible_per_visit: Amount
    ratio: Ratio
    annual_cap: Amount


class Band(_Part):
    """Burden from ``start`` up to the next band's start is reimbursed at ``ratio``."""

    start: Amount = Field(alias="from")
    ratio: Ratio


class Tilt(_Part):
    """Catastrophic terms for a special identity: a lower threshold and higher band ratios."""

    threshold: Amount
    ratios: list[Ratio]


class Catastrophic(_Part):
    annual_cap: Amount
    bands: list[Band] = Field(min_length=1)
    tilt: dict[Identity, Tilt] = Field(default_factory=dict)

    def _check_order(self) -> None:
        starts = [band.start for band in self.bands]
        for index in range(1, len(starts)):
            if starts[index] <= starts[index - 1]:
                raise ValueError(
                    f"bands: band {index} starts at {starts[index]}, not above band "
                    f"{index - 1} at {starts[index - 1]}: bands must be in increasing order"
                )
        for identity, tilt in self.tilt.items():
            if len(tilt.ratios) != len(self.bands):
                raise ValueError(
                    f"tilt.{identity}.ratios: {len(tilt.ratios)} ratios for {len(self.bands)} bands"
                )
            if len(starts) > 1 and tilt.threshold >= starts[1]:
                raise ValueError(
                    f"tilt.{identity}.threshold: {tilt.threshold} is not below the second "
                    f"band's start {starts[1]}"
                )

    @model_validator(mode="after")
    def _ordered(self) -> Catastrophic:
        self._check_order()
        return self

    @functools.cached_property
    def _schedules(self) -> dict[Identity | None, Schedule]:
        # Built once per policy (a plain attribute afterwards): every claim asks for one.
        base = [(band.start, band.ratio) for band in self.bands]
        schedules: dict[Identity | None, Schedule] = {None: Schedule.of(base)}
        for identity, tilt in self.tilt.items():
            tilted = [(start, ratio) for (start, _), ratio in zip(base, tilt.ratios, strict=True)]
            tilted[0] = (tilt.threshold, tilted[0][1])
            schedules[identity] = Schedule.of(tilted)
        return schedules

    def schedule(self, identity: Identity) -> Schedule:
        """The bands that apply to a person of this identity."""
        schedules = self._schedules
        return schedules.get(identity) or schedules[None]


class AssistanceRule(_Part):
    ratio: Ratio
    annual_cap: Amount


class Assistance(_Part):
    """Medical assistance (fund 610100) on what the person still bears in policy scope."""

    applies_to: list[MedType] = Field(
        default_factory=lambda: [MedType.INPATIENT, MedType.CHRONIC_OUTPATIENT]
    )
    identities: dict[Identity, AssistanceRule] = Field(default_factory=dict)
    flagged: AssistanceRule | None = None

    def rule(self, identity: Identity, medical_assistance: bool) -> AssistanceRule | None:
        """The person's rule: their identity's, else the flag's when they carry the flag."""
        rule = self.identities.get(identity)
        if rule is None and medical_assistance:
            rule = self.flagged
        return rule


class Policy(BaseModel):
    """A whole benefit policy (SPEC §5). Build with ``Policy.from_file`` or ``load_policy``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    description: str = ""
    meta: Meta | None = None
    basic: BasicFund
    inpatient: Inpatient
    chronic_outpatient: ChronicOutpatient
    general_outpatient: GeneralOutpatient
    accident_outpatient: AccidentOutpatient
    catastrophic: Catastrophic
    assistance: Assistance | None = None

    # Where it was read from and the SHA-256 of the file's bytes: each settlement records the
    # name and this hash, so anyone can check which figures settled it (`sha256sum FILE`).
    _source: str = PrivateAttr("<policy>")
    _sha256: str = PrivateAttr("")

    @property
    def source(self) -> str:
        """The file the policy was read from (for messages)."""
        return self._source

    @property
    def sha256(self) -> str:
        """The SHA-256 (hex) of the policy file's text, or of the model for a built one."""
        if not self._sha256:
            self._sha256 = hashlib.sha256(self.model_dump_json().encode()).hexdigest()
        return self._sha256

    def covers(self, region: str | None, year: int) -> bool:
        """Whether this policy is in force for the region and year (a file without ``[meta]``
        covers everything; an unknown region is covered only by such a file)."""
        if self.meta is None:
            return True
        return region is not None and self.meta.covers(region, year)

    @classmethod
    def from_toml(cls, text: str, source: str = "<policy>") -> Policy:
        """Parse and validate a policy file's text; ``PolicyError`` names the bad field."""
        try:
            data: dict[str, Any] = tomllib.loads(text, parse_float=Decimal)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(f"{source}: not valid TOML: {exc}") from None
        try:
            policy = cls.model_validate(data)
        except ValidationError as exc:
            problems = []
            for error in exc.errors(include_url=False):
                field = ".".join(str(part) for part in error["loc"]) or "policy"
                problems.append(f"{field}: {str(error['msg']).removeprefix('Value error, ')}")
            raise PolicyError(f"{source}: " + "; ".join(problems)) from None
        policy._source = source
        policy._sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return policy

    @classmethod
    def from_file(cls, path: str | Path) -> Policy:
        """Load a policy from a TOML file."""
        path = Path(path)
        # Bytes decoded as they are (no newline translation): the hash is `sha256sum FILE`'s.
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PolicyError(f"{path}: not UTF-8 text: {exc}") from None
        return cls.from_toml(text, source=str(path))


@functools.cache
def load_policy(name_or_path: str) -> Policy:
    """A shipped policy by name (``"liaocheng-2024"``), or a file by path; cached."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.is_file():
        return Policy.from_file(candidate)
    if "/" in name_or_path or not name_or_path:
        raise PolicyError(f"no such policy: {name_or_path!r}")
    path = POLICY_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        shipped = sorted(p.stem for p in POLICY_DIR.glob("*.toml"))
        raise PolicyError(f"no such policy: {name_or_path!r} (shipped: {', '.join(shipped)})")
    return Policy.from_file(path)
