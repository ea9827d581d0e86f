"""samples/his_client.py walks sign-in → 1101 → 2303 → 2304 → 5206 → 2305 → 3201 against a
running settlement service, as its docstring tells an HIS developer to."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.nhsa_stack import Stack, running_stack

pytestmark = pytest.mark.e2e
SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "his_client.py"


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    yield from running_stack(tmp_path_factory.mktemp("his-client"))


def test_the_sample_his_client_walks_the_platform_interface(stack):
    psn = stack.person()
    done = subprocess.run(
        [sys.executable, str(SAMPLE), "--url", stack.url, "--key", stack.keys["C1"],
         "--hospital", "C1", "--certno", stack.certnos[psn], "--date", "2024-03-01"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    for infno in ("9001", "1101", "2303", "2304", "5206", "2305", "3201"):
        assert f"--- {infno} (" in out
    assert "infcode -1" not in out
    assert out.rstrip().splitlines()[-1].startswith("对账一致")
