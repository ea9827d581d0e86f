"""What a job over many people counts, chunk by chunk (the assistance list, the freeze)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Self


@dataclass
class Counts:
    """A chunk's tallies and refusals; ``add`` sums another chunk's into these (each field a
    number or a list of refusals, each with a zero default)."""

    def add(self, other: Self) -> None:
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))
