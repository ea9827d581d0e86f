"""`make run`'s supervisor (`python -m deploy.devstack`) as a test drives it: a real subprocess on
free ports, its databases in a temporary directory, its output kept for the failure message."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from shared.tansu import free_port

ROOT = Path(__file__).resolve().parents[2]
BANNER = "The stack is up."


class DevStack:
    """One devstack process; `start()` returns once its banner is printed."""

    def __init__(self, tmp_path: Path, databases: dict[str, str] | None = None) -> None:
        """``databases``: ENROLLMENT_/SETTLEMENT_DATABASE_URL; SQLite files in tmp_path if None."""
        self.kafka_port, self.enrollment_port, self.settlement_port = (
            free_port(),
            free_port(),
            free_port(),
        )
        self.var_dir = tmp_path / "var"
        self.env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
        self.env.update(
            databases
            or {
                "ENROLLMENT_DATABASE_URL": f"sqlite:///{tmp_path / 'enrollment.db'}",
                "SETTLEMENT_DATABASE_URL": f"sqlite:///{tmp_path / 'settlement.db'}",
            }
        )
        self.lines: list[str] = []
        self.process: subprocess.Popen[str] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def enrollment_url(self) -> str:
        return f"http://127.0.0.1:{self.enrollment_port}"

    @property
    def settlement_url(self) -> str:
        return f"http://127.0.0.1:{self.settlement_port}"

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    @property
    def demo_key(self) -> str | None:
        found = re.search(r"demo hospital key: (\S+)", self.output)
        return found.group(1) if found else None

    @property
    def admin_token(self) -> str | None:
        found = re.search(r"demo admin token: (\S+)", self.output)
        return found.group(1) if found else None

    def start(self, timeout: float = 120.0) -> None:
        self.lines = []  # a restart waits for its own banner
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "deploy.devstack",
                f"--kafka-port={self.kafka_port}",
                f"--enrollment-port={self.enrollment_port}",
                f"--settlement-port={self.settlement_port}",
                f"--var-dir={self.var_dir}",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not any(BANNER in line for line in self.lines):
            if self.process.poll() is not None:
                time.sleep(0.2)  # the last lines
                raise AssertionError(f"devstack exited early:\n{self.output}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no banner after {timeout}s:\n{self.output}")
            time.sleep(0.1)

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def descendants(self) -> dict[int, str]:
        """Every live process below devstack (pid → command line), from /proc."""
        assert self.process is not None
        parent_of: dict[int, int] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                # "pid (comm) state ppid …"; comm may hold spaces, so split after the last ")".
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parent_of[int(stat.parent.name)] = int(fields[1])
        found: dict[int, str] = {}
        frontier = [self.process.pid]
        while frontier:
            parent = frontier.pop()
            for pid, ppid in parent_of.items():
                if ppid == parent and pid not in found:
                    found[pid] = command_line(pid)
                    frontier.append(pid)
        return found

    def interrupt(self, timeout: float = 60.0) -> int:
        """Ctrl-C, as a terminal sends it; returns the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout)

    def close(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    """Running, and not a zombie waiting for its parent."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
