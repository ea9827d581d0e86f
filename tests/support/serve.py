"""An ASGI app served by uvicorn in a thread on a free port of 127.0.0.1, for real-HTTP tests."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import uvicorn

from shared import tansu


@contextlib.contextmanager
def served(app: Any, port: int | None = None, **options: Any) -> Iterator[str]:
    """Serve ``app`` (its lifespan runs) until the block ends; yields its base URL. ``options``
    go to ``uvicorn.Config`` (``loop="uvloop", http="httptools"`` as ``settlement serve``)."""
    port = port or tansu.free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, **options
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        tansu.wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
