"""A staff token for end-to-end tests, made the way an operator makes one: ``enrollment staff
add`` run as a process against the service's database (the token is its last line)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ENROLLMENT = Path(sys.executable).parent / "enrollment"


def add_staff(env: dict[str, str], name: str = "admin", role: str = "admin", *scope: str) -> str:
    """The new member's token; ``scope`` are extra options (``--region``, ``3715``…)."""
    done = subprocess.run(
        [str(ENROLLMENT), "staff", "add", "--name", name, "--role", role, *scope],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
