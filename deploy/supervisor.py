"""A small foreman: run child processes, print their output under their names, stop them together.

Each child runs in a session of its own, so a Ctrl-C in the terminal reaches only the supervisor,
which then stops the children in the reverse of the order they started (the services before the
broker they talk to) — a terminate first, a kill after a grace period, to the child's whole
process group so that nothing it started survives it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

_COLOURS = itertools.cycle(["36", "33", "35", "32", "34", "31"])
_NAME_WIDTH = 10


class ChildExited(Exception):
    """A long-running child stopped on its own."""

    def __init__(self, name: str, returncode: int) -> None:
        super().__init__(f"{name} exited with status {returncode}")
        self.name = name
        self.returncode = returncode


class StepFailed(Exception):
    """A one-shot command (a migration, a set-up step) failed or took too long."""


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    pump: threading.Thread
    lines: list[str]


class Supervisor:
    """Starts named children, prefixes their output lines, and stops them all on request."""

    def __init__(self, *, cwd: Path, out: IO[str] | None = None, grace: float = 10.0) -> None:
        self.cwd = cwd
        self.grace = grace
        self._out = out or sys.stdout
        self._colour = self._out.isatty()
        self._colours: dict[str, str] = {}
        self._lock = threading.Lock()
        self._children: list[Child] = []

    # -- output -------------------------------------------------------------------------------

    def say(self, name: str, text: str) -> None:
        """Print lines under a name, like every child's output."""
        if name not in self._colours:
            self._colours[name] = next(_COLOURS)
        label = f"{name:<{_NAME_WIDTH}} |"
        if self._colour:
            label = f"\x1b[{self._colours[name]}m{label}\x1b[0m"
        with self._lock:
            for line in text.splitlines() or [""]:
                self._out.write(f"{label} {line}\n")
            self._out.flush()

    def _pump(self, name: str, process: subprocess.Popen[bytes], lines: list[str]) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            lines.append(line)
            self.say(name, line)

    # -- children -----------------------------------------------------------------------------

    def _spawn(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None,
        stdin: str | None = None,
    ) -> Child:
        process = subprocess.Popen(
            list(argv),
            cwd=self.cwd,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if stdin is not None and process.stdin is not None:  # e.g. a password, never an argument
            process.stdin.write(stdin.encode())
            process.stdin.close()
        lines: list[str] = []
        pump = threading.Thread(target=self._pump, args=(name, process, lines), daemon=True)
        pump.start()
        return Child(name, process, pump, lines)

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        """Start a long-running child."""
        self._children.append(self._spawn(name, argv, env))

    def run(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        timeout: float = 120.0,
        stdin: str | None = None,
    ) -> list[str]:
        """Run a one-shot command to completion (``stdin`` written to it); its output lines."""
        child = self._spawn(name, argv, env, stdin)
        try:
            returncode = child.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise StepFailed(f"{name}: `{' '.join(argv)}` took more than {timeout:.0f}s") from None
        finally:
            if child.process.poll() is None:
                _signal_group(child.process, signal.SIGKILL)
                child.process.wait()
            child.pump.join(5)
        if returncode != 0:
            raise StepFailed(f"{name}: `{' '.join(argv)}` failed with status {returncode}")
        return child.lines

    def check(self) -> None:
        """Raise ChildExited if a long-running child has stopped."""
        for child in self._children:
            returncode = child.process.poll()
            if returncode is not None:
                child.pump.join(2)  # let its last words reach the terminal first
                raise ChildExited(child.name, returncode)

    def wait(self, poll: float = 0.2) -> ChildExited:
        """Block until a long-running child stops; returns which one and how."""
        while True:
            try:
                self.check()
            except ChildExited as exited:
                return exited
            time.sleep(poll)

    def stop(self) -> None:
        """Stop every child, newest first: terminate, then kill after the grace period."""
        while self._children:
            child = self._children.pop()
            if child.process.poll() is None:
                _signal_group(child.process, signal.SIGTERM)
                try:
                    child.process.wait(self.grace)
                except subprocess.TimeoutExpired:
                    self.say(child.name, f"still running after {self.grace:g}s; killing it")
            # The child may be gone while something it started still runs in its group.
            _signal_group(child.process, signal.SIGKILL)
            child.process.wait()
            child.pump.join(2)


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    # start_new_session made the child the leader of its own process group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


@contextlib.contextmanager
def signals_ignored() -> Iterator[None]:
    """Keep a second Ctrl-C from interrupting a shutdown half-way."""
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
