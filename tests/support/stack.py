"""The whole stack as separate processes on free ports, for the chaos test and the soak benchmark.

A Tansu broker, ``enrollment serve`` (API, outbox relay, tax-feed consumer), ``settlement serve
--no-consumer`` (the HIS API) and ``settlement consume`` (the projection's consumer), each in a
session of its own so that a SIGKILL reaches everything it started, each logging to a file under
the work directory. The staff-token key pair lives under ``<work>/var`` as beside ``make run``, so
``enrollment reconcile`` signs its own token. ``close()`` stops every process, whatever happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from shared import staff_tokens, tansu
from shared.events import TOPIC_BASIC_DATA, TOPIC_ENROLLMENT_EVENTS, TOPIC_TAX_PAYMENTS, dlq
from shared.kafka import ensure_topics

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG_ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
# The topics `make run` creates; a broker restarted empty gets them again.
TOPICS = [
    TOPIC_ENROLLMENT_EVENTS,
    dlq(TOPIC_ENROLLMENT_EVENTS),
    TOPIC_TAX_PAYMENTS,
    dlq(TOPIC_TAX_PAYMENTS),
    TOPIC_BASIC_DATA,
]
# Tansu creates a topic on first use with 4 partitions, and answers the same members joining
# again with the partitions they had. After a restart EMPTY, whichever client touches a topic
# first creates it; with 4 from the start, no topic ever has a partition its consumers' group
# did not share out.
PARTITIONS = 4
PROCESSES = ("broker", "enrollment", "settlement", "consumer")
"""Every long-running process of the stack, in the order they start."""


@contextlib.contextmanager
def fresh_database(prefix: str = "t") -> Iterator[str]:
    """A new, empty PostgreSQL database (plain ``postgresql://`` URL), dropped afterwards."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class Hospital:
    """A hospital registered with ``settlement hospitals add``, and its API key."""

    code: str
    level: int
    primary_care: bool
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


class Stack:
    """The four processes; start, SIGKILL and restart them by name."""

    def __init__(self, work: Path, enrollment_db: str, settlement_db: str) -> None:
        self.work = work
        self.kafka_port = tansu.free_port()
        self.ports = {"enrollment": tansu.free_port(), "settlement": tansu.free_port()}
        private, public = staff_tokens.ensure_key_pair(work / "var")
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"},
            "ENROLLMENT_DATABASE_URL": enrollment_db,
            "SETTLEMENT_DATABASE_URL": settlement_db,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "STAFF_TOKEN_PRIVATE_KEY_FILE": str(private),
            "STAFF_TOKEN_PUBLIC_KEY_FILE": str(public),
            "RELAY_POLL_INTERVAL": "0.02",
            "PYTHONUNBUFFERED": "1",
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.starts = dict.fromkeys(PROCESSES, 0)
        # A restart may run in a thread when a hard timeout closes the stack: none starts after.
        self._lock = threading.Lock()
        self._closed = False

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def _command(self, name: str) -> list[str]:
        if name == "broker":
            return tansu.command(self.kafka_port)
        if name == "consumer":
            return [str(BIN / "settlement"), "consume"]
        port = f"--port={self.ports[name]}"
        extra = ["--no-consumer"] if name == "settlement" else []
        return [str(BIN / name), "serve", port, *extra]

    # -- processes ---------------------------------------------------------------------------

    def start(self, name: str, timeout: float = 90) -> None:
        """Start one process and wait until it is ready (the broker: its topics exist)."""
        assert name not in self.processes, f"{name} is running"
        self.starts[name] += 1
        with self._lock, (self.work / f"{name}.log").open("ab") as log:
            if self._closed:
                raise RuntimeError(f"the stack is closed: {name} not started")
            log.write(f"--- start {self.starts[name]} ---\n".encode())
            log.flush()
            self.processes[name] = subprocess.Popen(
                self._command(name),
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if name == "broker":
            tansu.wait_for_port(self.kafka_port, timeout=30)
            asyncio.run(ensure_topics(self.bootstrap, TOPICS, PARTITIONS, wait=timeout))
        elif name in self.ports:
            self.wait_healthy(name, timeout)

    def start_all(self) -> None:
        for name in PROCESSES:
            self.start(name)

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown handler runs, nothing is flushed (its whole process group)."""
        proc = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)

    def restart(self, name: str) -> None:
        """SIGKILL, then start again at once (the broker: empty, on the same port)."""
        self.kill(name)
        self.start(name)

    def close(self) -> None:
        """Stop every process: SIGTERM to the services at once, then the broker; SIGKILL to
        whatever is left after 10 s (and to anything a process left in its group)."""
        with self._lock:
            self._closed = True
        for group in ([n for n in PROCESSES if n != "broker"], ["broker"]):
            stopping = [self.processes.pop(n) for n in group if n in self.processes]
            for proc in stopping:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            for proc in stopping:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(max(0.1, deadline - time.monotonic()))
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def wait_healthy(self, name: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.processes[name].poll() is None, f"{name} exited:\n{self.log(name)}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url(name)}/healthz", timeout=2).status_code == 200:
                    return
            assert time.monotonic() < deadline, f"{name} not healthy:\n{self.log(name)}"
            time.sleep(0.1)

    def alive(self) -> dict[str, bool]:
        return {name: proc.poll() is None for name, proc in self.processes.items()}

    def rss_kib(self, name: str) -> int:
        """Resident memory of a process (VmRSS, KiB), as the kernel reports it."""
        status = Path(f"/proc/{self.processes[name].pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(line.split()[1])

    def log(self, name: str, tail: int = 4000) -> str:
        path = self.work / f"{name}.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""

    # -- one-shot commands -------------------------------------------------------------------

    def run(self, *command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """A console command (``enrollment …``, ``settlement …``) against the stack's databases."""
        return subprocess.run(
            [str(BIN / command[0]), *command[1:]],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def last_line(self, *command: str) -> str:
        """What a command that makes a token or key printed last; fails with its output."""
        done = self.run(*command)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout.strip().splitlines()[-1]

    def admin_token(self) -> str:
        return self.last_line(
            "enrollment", "staff", "add", "--name", "load.admin", "--role", "admin"
        )

    def add_hospital(self, code: str, level: int, *, primary_care: bool = False) -> Hospital:
        flags = ["--public", *(["--primary-care"] if primary_care else [])]
        key = self.last_line(
            "settlement", "hospitals", "add", "--code", code, "--name", f"Hospital {code}",
            "--level", str(level), *flags,
        )  # fmt: skip
        return Hospital(code, level, primary_care, key)


@contextlib.contextmanager
def running_stack(work: Path, enrollment_db: str, settlement_db: str) -> Iterator[Stack]:
    """Every process started and ready; all of them stopped when the block ends, however."""
    stack = Stack(work, enrollment_db, settlement_db)
    try:
        stack.start_all()
        yield stack
    finally:
        stack.close()
