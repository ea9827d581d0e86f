"""Resident ID numbers (GB 11643-1999): 18 characters, ISO 7064 MOD 11-2 check character."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from shared.china_time import china_today

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")


class InvalidCertno(ValueError):
    """The number is not a valid resident ID; the message says why."""


@dataclass(frozen=True, slots=True)
class Certno:
    """A validated resident ID number and what it encodes."""

    value: str
    region: str
    birth_date: date
    gender: str  # "male" | "female"

    def masked(self) -> str:
        return mask(self.value)


def check_character(first17: str) -> str:
    """The MOD 11-2 check character for the first 17 digits."""
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def parse(raw: str, *, today: date | None = None) -> Certno:
    """Validate and normalise (lower-case x → X); raise InvalidCertno with the reason."""
    if not isinstance(raw, str):
        raise InvalidCertno("certno must be a string")
    value = raw.strip().upper()
    if len(value) != 18:
        raise InvalidCertno(f"certno must have 18 characters, got {len(value)}")
    if not _SHAPE.match(value):
        raise InvalidCertno("certno must be 17 digits followed by a digit or X")
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError as exc:
        raise InvalidCertno("certno birth date is not a real date") from exc
    if born > (today or china_today()):
        raise InvalidCertno("certno birth date is in the future")
    if check_character(value[:17]) != value[17]:
        raise InvalidCertno("certno check character does not match")
    gender = "male" if int(value[16]) % 2 == 1 else "female"
    return Certno(value=value, region=value[:6], birth_date=born, gender=gender)


def is_valid(raw: str) -> bool:
    try:
        parse(raw)
    except InvalidCertno:
        return False
    return True


def mask(value: str) -> str:
    """Show only the area code's first 3 and the last 2 characters: safe for logs and errors."""
    if len(value) < 6:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 5) + value[-2:]


_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx])(?![0-9A-Za-z])")


def redact(text: str) -> str:
    """Mask every 18-character ID-shaped token in free text (log lines, error messages)."""
    return _IN_TEXT.sub(lambda m: mask(m.group(1)), text)
