"""`enrollment staff keys`: the signing pair made once, private owner-only, and kept after."""

from __future__ import annotations

import stat

import pytest
from click.testing import CliRunner

from services.enrollment.entrypoints.cli import cli
from shared import staff_tokens

pytestmark = pytest.mark.unit


def test_keys_are_made_once_with_the_private_key_owner_only(tmp_path):
    folder = tmp_path / "keys"
    first = CliRunner().invoke(cli, ["staff", "keys", "--out", str(folder)])
    assert first.exit_code == 0, first.output
    private = folder / staff_tokens.PRIVATE_KEY_NAME
    public = folder / staff_tokens.PUBLIC_KEY_NAME
    assert str(private) in first.output and str(public) in first.output
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    made = private.read_bytes()

    again = CliRunner().invoke(cli, ["staff", "keys", "--out", str(folder)])
    assert again.exit_code == 0, again.output
    assert private.read_bytes() == made  # an existing pair is kept, tokens already out stay valid


def test_a_folder_that_cannot_be_made_is_a_clear_refusal_not_a_traceback(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = CliRunner().invoke(cli, ["staff", "keys", "--out", str(blocker / "keys")])
    assert result.exit_code == 1
    assert "cannot write the key pair under" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
