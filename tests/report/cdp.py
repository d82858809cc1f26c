"""A page that stays open in headless Chromium, driven over the DevTools protocol on a pipe.

Why: `browser.load` (one `--dump-dom`) sees a page once; the live view must be watched over time in the
same page (it changes without a reload). Chromium's `--remote-debugging-pipe` speaks the DevTools
protocol as NUL-terminated JSON on file descriptors 3 (commands in) and 4 (replies and events out), so a
stdlib client of ~100 lines needs no websocket library. Events kept: console calls, uncaught exceptions,
log entries (CSP violations arrive there) and main-frame navigations (a reload would show up as one).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from browser import CHROMIUM, FLAGS


class CdpError(RuntimeError):
    pass


class Page:
    """One tab. Use as a context manager; `evaluate` runs an expression in the page and returns its value."""

    def __init__(self, url: str, *, width: int = 1280, height: int = 1800, timeout: float = 120) -> None:
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory(prefix="chromium-cdp-")
        commands_read, self._commands = os.pipe()
        self._replies, replies_write = os.pipe()

        def wire() -> None:  # in the child: its fd 3 reads our commands, its fd 4 writes to us
            high_in = fcntl.fcntl(commands_read, fcntl.F_DUPFD, 20)
            high_out = fcntl.fcntl(replies_write, fcntl.F_DUPFD, 20)
            os.dup2(high_in, 3)
            os.dup2(high_out, 4)

        args = [a for a in FLAGS if not a.startswith("--enable-logging") and a != "--v=0"]
        self.process = subprocess.Popen(
            [
                CHROMIUM,
                *args,
                "--remote-debugging-pipe",
                f"--user-data-dir={self._profile.name}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,
            preexec_fn=wire,
        )
        os.close(commands_read)
        os.close(replies_write)
        self._next_id = 0
        self._replies_by_id: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=True,
        )
        self.call("Page.navigate", {"url": url}, session=True)

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._replies, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._cond.notify_all()
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                with self._cond:
                    if "id" in message:
                        self._replies_by_id[message["id"]] = message
                    else:
                        self.events.append(message)
                    self._cond.notify_all()

    def call(
        self, method: str, params: dict[str, Any] | None = None, *, session: bool = False
    ) -> dict[str, Any]:
        with self._cond:
            self._next_id += 1
            ident = self._next_id
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while ident not in self._replies_by_id:
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    raise CdpError(f"no reply to {method} (browser alive: {self.process.poll() is None})")
                self._cond.wait(min(left, 1.0))
            reply = self._replies_by_id.pop(ident)
        if "error" in reply:
            raise CdpError(f"{method}: {reply['error']}")
        return dict(reply.get("result", {}))

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session=True,
        )
        if "exceptionDetails" in result:
            raise CdpError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, *, timeout: float, poll: float = 0.5) -> Any:
        """Poll `expression` until it is truthy; its value, or CdpError at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.evaluate(expression)
            except CdpError:
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise CdpError(f"still false after {timeout} s: {expression}")
            time.sleep(poll)

    def navigations(self) -> int:
        """Main-frame navigations so far (the first load counts one)."""
        with self._cond:
            return sum(
                1
                for event in self.events
                if event.get("method") == "Page.frameNavigated"
                and not event["params"]["frame"].get("parentId")
                and event["params"]["frame"].get("url", "").startswith("http")
            )

    def messages(self, keep: Callable[[dict[str, Any]], bool] | None = None) -> list[str]:
        """Console calls, uncaught exceptions and log entries (CSP violations included), as text."""
        found = []
        with self._cond:
            events = list(self.events)
        for event in events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled":
                text = " ".join(
                    str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", [])
                )
                found.append(f"console.{params.get('type')}: {text}")
            elif method == "Runtime.exceptionThrown":
                found.append(f"exception: {params.get('exceptionDetails', {}).get('text')}")
            elif method == "Log.entryAdded":
                entry = params.get("entry", {})
                found.append(f"log.{entry.get('level')} [{entry.get('source')}]: {entry.get('text')}")
        return [text for text in found if keep is None or keep({"text": text})]

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._commands, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._commands, self._replies):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._profile.cleanup()

    def __enter__(self) -> Page:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
