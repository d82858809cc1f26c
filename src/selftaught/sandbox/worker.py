"""The host's handle on one zygote process: start it, talk to it, notice when it dies.

One reader thread per zygote routes every message to the queue of the job it belongs to (by job id);
writes are serialised by a lock because many host threads submit jobs to the same zygote. When the
zygote dies (or is killed as hung), every job waiting on it gets a `{"op": "dead"}` message.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from selftaught.errors import SandboxUnavailable
from selftaught.sandbox.inside import frames, wire
from selftaught.sandbox.launch import LaunchSpec
from selftaught.sandbox.uids import UidBlock

log = logging.getLogger("selftaught.sandbox")
HOST_READ_CAP = 1 << 30
HELLO_TIMEOUT = 30.0

Message = tuple[dict[str, Any], list[bytes]]
# Applied by the reader thread to each message of a job before it is queued: may replace it (e.g. drop
# the bodies of an output over the job's budget), so what waits in a job's queue is already bounded.
Admit = Callable[[Message], Message]


class ZygoteDied(Exception):
    """The zygote is gone; the job could not be sent or did not finish."""


class ZygoteProcess:
    """A running zygote and the routing of its messages."""

    def __init__(self, index: int, spec: LaunchSpec, uid_block: UidBlock | None = None) -> None:
        self.index = index
        self.uid_block = uid_block  # released once the zygote (and so every child of it) is gone
        self.proc = subprocess.Popen(
            spec.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=spec.env,
            close_fds=True,
            start_new_session=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None and self.proc.stderr is not None
        self._in = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()
        self._write_lock = threading.Lock()
        self._jobs_lock = threading.Lock()
        self.jobs: dict[int, tuple[queue.Queue[Message], Admit | None]] = {}
        self.alive = True
        self.hello: dict[str, Any] = {}
        self._hello_seen = threading.Event()
        self._stderr_tail: deque[str] = deque(maxlen=40)
        threading.Thread(target=self._read_loop, name=f"zygote-{index}-reader", daemon=True).start()
        threading.Thread(target=self._stderr_loop, name=f"zygote-{index}-stderr", daemon=True).start()
        if not self._hello_seen.wait(HELLO_TIMEOUT) or not self.hello:
            self.kill()
            raise SandboxUnavailable(f"the sandbox worker did not start: {self.stderr_tail() or 'no output'}")

    @property
    def load(self) -> int:
        return len(self.jobs)

    def stderr_tail(self) -> str:
        return " | ".join(self._stderr_tail)[-600:]

    def register(self, job_id: int, admit: Admit | None = None) -> queue.Queue[Message]:
        """The queue of `job_id`'s messages. Its size is bounded upstream: the zygote paces a job's
        remote calls (a window of calls and bytes not answered yet) and caps its events, instances
        answer one at a time, and `admit` drops output bodies over the job's budget as they arrive."""
        box: queue.Queue[Message] = queue.Queue()
        with self._jobs_lock:
            if not self.alive:
                raise ZygoteDied("sandbox worker is dead")
            self.jobs[job_id] = (box, admit)
        return box

    def unregister(self, job_id: int) -> None:
        with self._jobs_lock:
            self.jobs.pop(job_id, None)

    def send(self, header: dict[str, Any], bodies: list[bytes] = ()) -> None:  # type: ignore[assignment]
        data = frames.pack_message(header, bodies)
        try:
            with self._write_lock:
                if self.proc.stdin is None or self.proc.stdin.closed:
                    raise OSError("pipe closed")
                frames.write_all(self._in, data)
        except OSError as exc:
            raise ZygoteDied(f"sandbox worker is gone: {exc}") from None

    def _read_loop(self) -> None:
        try:
            while True:
                header, bodies = frames.read_message(self._out, HOST_READ_CAP)
                if header.get("op") == "hello":
                    self.hello = header
                    self._hello_seen.set()
                    continue
                with self._jobs_lock:
                    entry = self.jobs.get(header.get("id", -1))
                if entry is not None:
                    box, admit = entry
                    box.put(admit((header, bodies)) if admit is not None else (header, bodies))
                del header, bodies  # not kept alive by this frame while the reader waits
        except (EOFError, OSError, wire.WireError) as exc:
            reason = f"sandbox worker {self.index} exited ({exc}); {self.stderr_tail()}"
        self._mark_dead(reason)
        self._close(self.proc.stdout)

    def _mark_dead(self, reason: str) -> None:
        with self._jobs_lock:
            was_alive, self.alive = self.alive, False
            boxes = [box for box, _ in self.jobs.values()]
        self._hello_seen.set()
        if was_alive:
            log.warning("%s", reason)
        for box in boxes:
            box.put(({"op": "dead", "reason": reason}, []))

    def _stderr_loop(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            self._stderr_tail.append(line)
            log.debug("zygote %d: %s", self.index, line)
        self._close(self.proc.stderr)

    @staticmethod
    def _close(stream: Any) -> None:
        try:
            if stream is not None:
                stream.close()
        except OSError:
            pass

    def kill(self) -> None:
        """Stop the zygote (and with it every child: its pid namespace or parent-death signal)."""
        self.alive = False
        with contextlib.suppress(OSError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
            if self.uid_block is not None:
                self.uid_block.release()  # only once it is gone: its children die with it
        except subprocess.TimeoutExpired:
            log.warning("sandbox worker %d did not exit; its uid block stays locked", self.index)
        with self._write_lock:  # writers were unblocked by the kill (EPIPE)
            self._close(self.proc.stdin)  # stdout and stderr are closed by their reader threads at EOF
        self._mark_dead(f"sandbox worker {self.index} stopped")
