"""`selftaught serve` as a user starts it (the real CLI in a subprocess), for the browser tests."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ADDRESS_PREFIX = "live view: "


class ServeProcess:
    """`selftaught serve --port 0` in a subprocess; `url` is the address it printed."""

    def __init__(self, runs_dir: Path, *extra: str, timeout: float = 180) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "selftaught", "serve", "--runs-dir", str(runs_dir), "--port", "0", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ},
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while not self.lines:
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise AssertionError(
                    f"serve printed no address: {self.process.stderr.read() if self.process.stderr else ''}"
                )
            time.sleep(0.1)
        assert self.lines[0].startswith(ADDRESS_PREFIX), self.lines
        self.url = self.lines[0][len(ADDRESS_PREFIX) :].strip()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
