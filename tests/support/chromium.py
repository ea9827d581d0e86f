"""Headless Chromium driven over the Chrome DevTools Protocol, with nothing downloaded.

Debian's ``chromium`` package is the browser; ``websockets`` (already installed with uvicorn)
speaks the protocol. ``Browser`` starts one process with a fresh profile in a temporary
directory and stops it (its whole process group) on exit; ``Page`` records what a test asserts
on: every request's URL, console errors and uncaught exceptions.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import websockets

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--window-size=1280,900",
)


def executable() -> str | None:
    """The system Chromium, if installed."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Page:
    """One tab: navigate, evaluate, screenshot; requests and errors recorded as they happen."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.ids = itertools.count(1)
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.loaded = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.socket:
            message = json.loads(raw)
            future = self.waiting.pop(message.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(message)
            else:
                self._event(message.get("method", ""), message.get("params", {}))

    def _event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(" ".join(str(a.get("value", a)) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            self.errors.append(str(params.get("exceptionDetails", {}).get("text")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
        elif method == "Page.loadEventFired":
            self.loaded.set()

    async def call(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        """Send a command and wait for its answer (an error answer raises)."""
        number = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[number] = future
        await self.socket.send(json.dumps({"id": number, "method": method, "params": params}))
        answer = await asyncio.wait_for(future, timeout)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    async def start(self) -> None:
        for domain in ("Page", "Runtime", "Network", "Log"):
            await self.call(f"{domain}.enable")

    async def goto(self, url: str, timeout: float = 30) -> None:
        """Open ``url`` and wait for its load event."""
        self.loaded.clear()
        await self.call("Page.navigate", url=url)
        await asyncio.wait_for(self.loaded.wait(), timeout)

    async def evaluate(self, expression: str) -> Any:
        """Run JavaScript in the page; its value (awaited when it is a promise)."""
        result = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    async def submit(self, form_selector: str, values: dict[str, str], timeout: float = 30) -> None:
        """Fill a form's fields by name and submit it; wait for the next page's load."""
        script = (
            f"(() => {{ const f = document.querySelector({json.dumps(form_selector)});"
            f" const v = {json.dumps(values)};"
            " for (const [k, x] of Object.entries(v)) { f.elements[k].value = x; }"
            " f.requestSubmit(); return true; })()"
        )
        self.loaded.clear()
        await self.evaluate(script)
        await asyncio.wait_for(self.loaded.wait(), timeout)

    async def screenshot(self, path: Path) -> None:
        """The whole page as PNG."""
        metrics = await self.call("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        width, height = int(size["width"]), min(int(size["height"]), 6000)
        await self.call(
            "Emulation.setDeviceMetricsOverride",
            width=max(width, 1280),
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        shot = await self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        await self.call("Emulation.clearDeviceMetricsOverride")
        path.write_bytes(base64.b64decode(shot["data"]))

    async def close(self) -> None:
        self.reader.cancel()
        with contextlib.suppress(BaseException):
            await self.reader
        await self.socket.close()


class Browser:
    """A headless Chromium with a fresh profile under ``folder``; ``async with`` it."""

    def __init__(self, folder: Path, binary: str | None = None, start_timeout: float = 30) -> None:
        self.folder = folder
        self.binary = binary or executable() or "chromium"
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    async def __aenter__(self) -> Browser:
        profile = self.folder / "profile"
        profile.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "chromium.log", "wb") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(
                [self.binary, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0"],
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + self.start_timeout
        while not (active.exists() and active.read_text().count("\n") >= 1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self._stop()
                raise RuntimeError(f"chromium did not start; see {self.folder / 'chromium.log'}")
            await asyncio.sleep(0.05)
        self.port = int(active.read_text().split()[0])
        return self

    async def page(self) -> Page:
        """A new tab, its events on."""
        url = f"http://127.0.0.1:{self.port}/json/new?about:blank"
        request = urllib.request.Request(url, method="PUT")
        target = json.loads(await asyncio.to_thread(_read, request))
        socket = await websockets.connect(target["webSocketDebuggerUrl"], max_size=64 * 2**20)
        page = Page(socket)
        await page.start()
        return page

    async def __aexit__(self, *exc: object) -> None:
        self._stop()

    def _stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.process = None


def _read(request: urllib.request.Request) -> bytes:
    with urllib.request.urlopen(request, timeout=10) as answer:  # the local debugging port
        return answer.read()  # type: ignore[no-any-return]
