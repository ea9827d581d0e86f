"""Find the premium rules for a region and year on disk: ``<region>-<year>.toml``, else default."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from services.enrollment.domain.premiums import PremiumRules, parse_rules


class NoPremiumRules(LookupError):
    """No rules file covers that region and year."""


@lru_cache(maxsize=256)
def load_rules(directory: Path, region: str, insurance_year: int) -> PremiumRules:
    """The rules for a region's year; the region's own file wins over ``default-<year>``."""
    for name in (f"{region}-{insurance_year}.toml", f"default-{insurance_year}.toml"):
        path = directory / name
        if path.is_file():
            return parse_rules(path.read_text(encoding="utf-8"))
    raise NoPremiumRules(f"no premium rules for region {region}, year {insurance_year}")
