"""`make run`: the whole stack on this machine, in one terminal.

In order, it

1. starts a Kafka-compatible broker (Tansu, in memory) on 127.0.0.1:9092 — unless
   ``KAFKA_BOOTSTRAP_SERVERS`` names a broker to use instead — and creates the topics;
2. starts ``enrollment serve`` on :8001 and ``settlement serve`` on :8002, each with a SQLite file
   under ``var/`` unless ``ENROLLMENT_DATABASE_URL`` / ``SETTLEMENT_DATABASE_URL`` say otherwise
   (each ``serve`` applies its migrations at start), and waits until each answers ``/healthz``;
3. runs ``settlement hospitals demo`` and ``enrollment staff add --name admin`` (a new token and
   console password on every start; the staff-token key pair is made once under ``var/``) and
   prints a banner: the URLs, the broker, the demo hospital's key, the demo admin's token, the
   ops consoles and their login, and a curl line to start from.

Every child's output is printed under its name. Ctrl-C (or SIGTERM) stops every child and exits 0;
if a child stops on its own, the others are stopped too and the exit status is 1.

A service whose console script does not offer a command yet (the project is built in pieces) is
left out with a note, so the stack runs with what exists.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import FrameType

import click
import httpx
from sqlalchemy.engine import make_url

from deploy.supervisor import ChildExited, StepFailed, Supervisor, signals_ignored
from shared import staff_tokens, tansu
from shared.events import TOPIC_BASIC_DATA, TOPIC_ENROLLMENT_EVENTS, TOPIC_TAX_PAYMENTS, dlq
from shared.kafka import ensure_topics

ROOT = Path(__file__).resolve().parent.parent
TOPICS = [
    TOPIC_ENROLLMENT_EVENTS,
    dlq(TOPIC_ENROLLMENT_EVENTS),
    TOPIC_TAX_PAYMENTS,
    dlq(TOPIC_TAX_PAYMENTS),
    TOPIC_BASIC_DATA,
]
ME = "devstack"
# The person the banner's curl lines register (a valid resident ID number, SPEC §2).
DEMO_PERSON = {
    "certno": "371502199001010012",
    "name": "Zhang San",
    "category": "resident",
    "identity": "destitute",
    "region": "371502",
    "organization": "Dongchang street",
}


class StartupError(Exception):
    """The stack cannot start; the message says what to do about it."""


@dataclass(frozen=True)
class Service:
    """One of the two services, as `make run` starts it."""

    name: str  # also its console script and the package under services/
    port: int
    database_env: str

    def script(self) -> str:
        return str(Path(sys.executable).parent / self.name)

    def commands(self) -> set[str]:
        """What its console script offers ("serve", "hospitals demo" …), read from the click group.

        The import happens here, in the supervisor, so a service that cannot even be imported
        stops `make run` with its traceback instead of being skipped quietly.
        """
        group = importlib.import_module(f"services.{self.name}.entrypoints.cli").cli
        return set(_walk(group))

    def url(self, host: str) -> str:
        return f"http://{host}:{self.port}"


def _walk(group: click.Group, prefix: str = "") -> Iterator[str]:
    for name, command in group.commands.items():
        yield prefix + name
        if isinstance(command, click.Group):
            yield from _walk(command, f"{prefix}{name} ")


@dataclass
class Stack:
    """What came up, for the banner."""

    bootstrap: str
    embedded_broker: bool
    host: str
    services: list[Service]
    databases: dict[str, str]  # service name → database URL
    demo_key: str | None = None
    admin_token: str | None = None
    admin_password: str | None = None  # the demo admin's console login (SPEC §10)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.devstack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface the services listen on")
    parser.add_argument("--kafka-port", type=int, default=9092, help="port of the embedded broker")
    parser.add_argument("--enrollment-port", type=int, default=8001)
    parser.add_argument("--settlement-port", type=int, default=8002)
    parser.add_argument(
        "--var-dir", type=Path, default=ROOT / "var", help="where the SQLite files live"
    )
    parser.add_argument(
        "--health-timeout", type=float, default=60.0, help="seconds to wait for /healthz"
    )
    return parser.parse_args(argv)


def start_stack(supervisor: Supervisor, args: argparse.Namespace) -> Stack:
    """Start everything in order; StartupError or ChildExited when something does not come up."""
    services = _services_to_start(supervisor, args)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    embedded = not bootstrap
    if not bootstrap:
        bootstrap = _start_broker(supervisor, args.kafka_port)
    _create_topics(supervisor, bootstrap)

    env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    # Each ops console links the other (and the settlement console logs in at enrollment's).
    env["CONSOLE_SETTLEMENT_URL"] = f"http://{{host}}:{args.settlement_port}/console"
    env["CONSOLE_ENROLLMENT_URL"] = f"http://{{host}}:{args.enrollment_port}/console"
    for service in services:
        default = f"sqlite:///{args.var_dir.resolve() / service.name}.db"
        env[service.database_env] = os.environ.get(service.database_env) or default
    args.var_dir.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("STAFF_TOKEN_PRIVATE_KEY_FILE"):  # else the operator's keys are used
        private, public = staff_tokens.ensure_key_pair(args.var_dir)
        env["STAFF_TOKEN_PRIVATE_KEY_FILE"], env["STAFF_TOKEN_PUBLIC_KEY_FILE"] = map(
            str, (private, public)
        )
    for service in services:
        supervisor.say(ME, f"starting {service.name} on {service.url(args.host)}")
        serve = [service.script(), "serve", "--host", args.host, "--port", str(service.port)]
        supervisor.start(service.name, serve, env)
    for service in services:
        _wait_healthy(supervisor, service.url(args.host) + "/healthz", args.health_timeout)
        supervisor.say(ME, f"{service.name} is healthy")

    databases = {service.name: env[service.database_env] for service in services}
    stack = Stack(bootstrap, embedded, args.host, services, databases)
    settlement = next((s for s in services if s.name == "settlement"), None)
    if settlement and "hospitals demo" in settlement.commands():
        lines = supervisor.run("settlement", [settlement.script(), "hospitals", "demo"], env)
        stack.demo_key = _last_line(lines)
    enrollment = next((s for s in services if s.name == "enrollment"), None)
    if enrollment and "staff add" in enrollment.commands():
        admin = ["staff", "add", "--name", "admin", "--role", "admin", "--rotate-if-exists"]
        # A fresh console password every start, like the token (read from stdin, never argv).
        stack.admin_password = secrets.token_urlsafe(12)
        admin.append("--password-stdin")
        stack.admin_token = _last_line(
            supervisor.run(
                "enrollment", [enrollment.script(), *admin], env, stdin=stack.admin_password + "\n"
            )
        )
    return stack


def _last_line(lines: list[str]) -> str | None:
    """What a one-shot command printed last (the key or token it made)."""
    return next((line.strip() for line in reversed(lines) if line.strip()), None)


def _services_to_start(supervisor: Supervisor, args: argparse.Namespace) -> list[Service]:
    """Both services, less one whose `serve` does not exist yet; their ports must be free."""
    services = []
    for service in (
        Service("enrollment", args.enrollment_port, "ENROLLMENT_DATABASE_URL"),
        Service("settlement", args.settlement_port, "SETTLEMENT_DATABASE_URL"),
    ):
        if "serve" not in service.commands():
            supervisor.say(ME, f"`{service.name} serve` does not exist yet; not starting it")
            continue
        _require_free_port(args.host, service.port, service.name)
        services.append(service)
    return services


def _create_topics(supervisor: Supervisor, bootstrap: str) -> None:
    supervisor.say(ME, f"creating topics on {bootstrap}: {', '.join(TOPICS)}")
    try:
        asyncio.run(ensure_topics(bootstrap, TOPICS, wait=30.0))
    except Exception as exc:  # aiokafka raises several kinds; the message is what matters here
        raise StartupError(f"cannot create the topics on Kafka at {bootstrap}: {exc!r}") from exc


def _start_broker(supervisor: Supervisor, port: int) -> str:
    _require_free_port(
        "127.0.0.1",
        port,
        "the embedded broker",
        hint="set KAFKA_BOOTSTRAP_SERVERS to use the broker already there",
    )
    supervisor.say(ME, f"starting the embedded broker (Tansu) on 127.0.0.1:{port}")
    supervisor.start("kafka", tansu.command(port))
    deadline = time.monotonic() + 15
    while not _port_open("127.0.0.1", port):
        supervisor.check()
        if time.monotonic() > deadline:
            raise StartupError(f"the broker did not listen on 127.0.0.1:{port} within 15s")
        time.sleep(0.05)
    return f"127.0.0.1:{port}"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), 0.2):
            return True
    except OSError:
        return False


def _require_free_port(host: str, port: int, who: str, hint: str = "") -> None:
    with socket.socket() as sock:
        # As the servers themselves bind: a socket of the last run in TIME_WAIT is not "taken"
        # (a port someone listens on still is), so `make run` right after Ctrl-C starts at once.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            advice = hint or "is another `make run` still running? stop it or pick another port"
            raise StartupError(
                f"port {port} on {host}, wanted by {who}, is taken: {advice}"
            ) from None


def _wait_healthy(supervisor: Supervisor, url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as client:
        while True:
            supervisor.check()
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise StartupError(f"{url} did not answer 200 within {timeout:.0f}s")
            time.sleep(0.2)


def banner(stack: Stack) -> str:
    """The lines a newcomer reads once everything is up."""
    broker = "embedded Tansu, in memory" if stack.embedded_broker else "KAFKA_BOOTSTRAP_SERVERS"
    lines = [
        "=" * 78,
        "The stack is up. Ctrl-C stops everything.",
        f"  kafka        {stack.bootstrap}  ({broker})",
    ]
    for service in stack.services:
        database = make_url(stack.databases[service.name]).render_as_string(hide_password=True)
        lines.append(f"  {service.name:<12} {service.url(stack.host)}  /docs  data: {database}")
    if stack.demo_key:
        lines.append(f"  demo hospital key: {stack.demo_key}")
    if stack.admin_token:
        lines.append(f"  demo admin token: {stack.admin_token}")
    if stack.admin_password and "enrollment" in {s.name for s in stack.services}:
        consoles = "  ".join(f"{s.url(stack.host)}/console" for s in stack.services)
        lines.append(f"  ops consoles: {consoles}")
        lines.append(f"    log in as admin, password {stack.admin_password}")
    names = {s.name: s for s in stack.services}
    year = date.today().year
    if "enrollment" in names:
        lines += [
            "Register someone (a destitute resident owes no premium, so is covered at once);",
            "every enrollment call carries a staff token, here the demo admin's:",
            f"  curl -s {names['enrollment'].url(stack.host)}/api/v1/persons "
            "-H 'Content-Type: application/json' \\",
            f"    -H 'Authorization: Bearer {stack.admin_token or 'TOKEN'}' \\",
            f"    -d '{json.dumps({**DEMO_PERSON, 'insurance_year': year})}'",
        ]
    if "settlement" in names:
        lines += [
            "Then ask settlement, as the demo hospital, whether the person is covered:",
            f"  curl -s '{names['settlement'].url(stack.host)}/api/v1/coverage"
            f"?certno={DEMO_PERSON['certno']}&date={year}-06-01' \\",
            f"    -H 'Authorization: Bearer {stack.demo_key or 'KEY'}'",
            "README.md, 'Running locally', goes on to settle a claim.",
        ]
    lines.append("=" * 78)
    return "\n".join(lines)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Stop the same way on SIGTERM as on Ctrl-C, and on Ctrl-C even when started from a script
    # that left SIGINT ignored (as `cmd &` in a non-interactive shell does).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    supervisor = Supervisor(cwd=ROOT)
    try:
        stack = start_stack(supervisor, args)
        supervisor.say(ME, banner(stack))
        exited = supervisor.wait()
        supervisor.say(ME, f"{exited}; stopping the others")
        return 1
    except KeyboardInterrupt:
        supervisor.say(ME, "stopping")
        return 0
    except (StartupError, StepFailed, ChildExited) as exc:
        supervisor.say(ME, f"cannot start: {exc}")
        return 1
    finally:
        with signals_ignored():
            supervisor.stop()
        supervisor.say(ME, "stopped")


if __name__ == "__main__":
    sys.exit(main())
