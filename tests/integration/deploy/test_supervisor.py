"""The process supervisor behind `make run`, with small real processes: output under names,
a stop that leaves nothing running, a kill for a child that ignores SIGTERM."""

from __future__ import annotations

import io
import sys
import time

import pytest

from deploy.supervisor import ChildExited, StepFailed, Supervisor

pytestmark = pytest.mark.integration

PY = sys.executable


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_every_output_line_is_printed_under_its_process_name(tmp_path):
    out = io.StringIO()
    supervisor = Supervisor(cwd=tmp_path, out=out)
    lines = supervisor.run(
        "worker", [PY, "-c", "print('one'); import sys; print('two', file=sys.stderr)"]
    )
    assert lines == ["one", "two"]
    assert out.getvalue().splitlines() == ["worker     | one", "worker     | two"]


def test_a_failing_step_names_itself(tmp_path):
    supervisor = Supervisor(cwd=tmp_path, out=io.StringIO())
    with pytest.raises(StepFailed, match=r"worker: .* failed with status 3"):
        supervisor.run("worker", [PY, "-c", "raise SystemExit(3)"])


def test_stop_ends_the_children_and_what_they_started(tmp_path):
    out = io.StringIO()
    supervisor = Supervisor(cwd=tmp_path, out=out)
    # A shell that starts a grandchild and prints its pid: stopping the shell must end both.
    supervisor.start("shell", ["sh", "-c", "sleep 300 & echo $!; wait"])
    wait_for(lambda: "shell      | " in out.getvalue())
    grandchild = int(out.getvalue().split("| ")[1])
    assert running(grandchild)

    supervisor.stop()

    assert not running(grandchild)


def test_a_child_deaf_to_sigterm_is_killed_after_the_grace_period(tmp_path):
    out = io.StringIO()
    supervisor = Supervisor(cwd=tmp_path, out=out, grace=0.5)
    deaf = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        "print('up', flush=True); time.sleep(60)"
    )
    supervisor.start("deaf", [PY, "-c", deaf])
    wait_for(lambda: "deaf       | up" in out.getvalue())

    started = time.monotonic()
    supervisor.stop()

    assert time.monotonic() - started < 5
    assert "deaf       | still running after 0.5s; killing it" in out.getvalue()


def test_a_child_that_stops_on_its_own_is_reported(tmp_path):
    out = io.StringIO()
    supervisor = Supervisor(cwd=tmp_path, out=out)
    supervisor.start(
        "sleeper", [PY, "-c", "import os, time; print(os.getpid(), flush=True); time.sleep(60)"]
    )
    supervisor.start("quitter", [PY, "-c", "raise SystemExit(7)"])

    exited = supervisor.wait(poll=0.05)
    assert isinstance(exited, ChildExited)
    assert (exited.name, exited.returncode) == ("quitter", 7)

    wait_for(lambda: "sleeper    | " in out.getvalue())
    sleeper = int(out.getvalue().split("sleeper    | ")[1].split()[0])
    supervisor.stop()
    assert not running(sleeper)
