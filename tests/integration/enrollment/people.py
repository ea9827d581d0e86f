"""Valid, distinct resident ID numbers for tests."""

from __future__ import annotations

from datetime import date, timedelta

from shared.certno import check_character


def unique_certno(n: int, region: str = "110105") -> str:
    """The n-th of many distinct valid certnos: born 2005-01-01 + n // 1000 days, sequence n."""
    born = (date(2005, 1, 1) + timedelta(days=n // 1000)).strftime("%Y%m%d")
    first17 = f"{region}{born}{n % 1000:03d}"
    return first17 + check_character(first17)
