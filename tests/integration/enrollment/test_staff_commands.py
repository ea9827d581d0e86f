"""``enrollment staff …`` as an operator types it (SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from services.enrollment.entrypoints.cli import cli

pytestmark = pytest.mark.integration

ENROLLMENT = Path(sys.executable).parent / "enrollment"


@pytest.fixture
def staff(db_url):
    runner = CliRunner()

    def run(*args: str, input: str | None = None):
        return runner.invoke(
            cli, ["staff", *args], env={"ENROLLMENT_DATABASE_URL": db_url}, input=input
        )

    return run


def last_line(output: str) -> str:
    return output.rstrip("\n").rsplit("\n", 1)[-1]


def test_add_list_rotate_disable(staff):
    added = staff("add", "--name", "d1", "--role", "district", "--region", "371502")
    assert added.exit_code == 0, added.output
    token = last_line(added.stdout)
    assert len(token) >= 40 and " " not in token
    assert "d1: district (--region 371502)" in added.stdout

    listed = staff("list")
    assert listed.exit_code == 0
    assert listed.stdout.startswith("d1\tdistrict\t--region 371502\tactive\tsince ")
    assert token not in listed.output

    rotated = staff("rotate-token", "--name", "d1")
    assert rotated.exit_code == 0
    assert last_line(rotated.stdout) not in (token, "")

    disabled = staff("disable", "--name", "d1")
    assert disabled.exit_code == 0 and "d1: disabled since" in disabled.stdout
    assert "\tdisabled " in staff("list").stdout


def test_a_password_comes_from_stdin_and_must_be_long_enough(staff):
    short = staff(
        "add", "--name", "t1", "--role", "town", "--organization", "X", "--password-stdin",
        input="short\n",
    )  # fmt: skip
    assert short.exit_code == 2
    assert "at least 10 characters" in short.output
    ok = staff(
        "add", "--name", "t1", "--role", "town", "--organization", "X", "--password-stdin",
        input="a long enough password\n",
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "root"], "'root' is not one of 'admin', 'city', 'district'"),
        (["--role", "district"], "role district needs --region"),
        (["--role", "admin", "--region", "3715"], "role admin takes no scope (not --region)"),
        (["--role", "department", "--source", "tax"], "'tax' is not one of 'civil_affairs'"),
    ],
)
def test_an_unknown_role_or_a_wrong_scope_exits_2_with_the_reason(staff, args, message):
    refused = staff("add", "--name", "x", *args)
    assert refused.exit_code == 2
    assert message in refused.output


def test_a_taken_or_unknown_name_exits_1_with_its_code(staff):
    assert staff("add", "--name", "a", "--role", "admin").exit_code == 0
    taken = staff("add", "--name", "a", "--role", "admin")
    assert taken.exit_code == 1 and "STAFF_EXISTS" in taken.output
    for command in ("rotate-token", "disable"):
        unknown = staff(command, "--name", "nobody")
        assert unknown.exit_code == 1 and "STAFF_NOT_FOUND" in unknown.output


def test_the_console_script_prints_the_token_alone_on_its_last_line(tmp_path):
    env = {"ENROLLMENT_DATABASE_URL": f"sqlite:///{tmp_path / 'e.db'}", "PATH": "/usr/bin:/bin"}
    command = [str(ENROLLMENT), "staff", "add", "--name", "admin", "--role", "admin"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    token = done.stdout.splitlines()[-1]
    assert token.strip() == token and len(token) == 43
    again = subprocess.run(
        [*command, "--rotate-if-exists"], env=env, capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] != token
