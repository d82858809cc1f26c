"""What the zygote keeps per running job and per child process (plain records, no behaviour).

Standalone like everything in `inside/` (stdlib only).
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field
from typing import Any

import frames


@dataclass
class Child:
    """One forked, confined process and the zygote's ends of its pipes."""

    pid: int
    ctrl_w: int
    ctrl_r: int
    out_r: int | None
    err_r: int | None
    slot: int
    scratch: str
    reader: frames.FrameReader
    private: bool = False  # its scratch is a tmpfs of its own (mounted by the zygote, `scratch.mount_tmpfs`)
    calls: int = 0  # calls sent to it so far (its first is charged its set-up's CPU time)
    pending: bytearray = field(default_factory=bytearray)
    # [bytes of `pending` before it, fds]: descriptors to pass once the bytes before them are written
    marks: list[list[Any]] = field(default_factory=list)
    paused: bool = False  # its control pipe is not read while the job's remote-call window is full


@dataclass
class JobState:
    """A job the zygote is running: its instance frames and where it is."""

    id: int
    header: dict[str, Any]
    bodies: list[bytes]
    next_i: int = 0
    phase: str = "setup"
    deadline: float = 0.0
    started: float = 0.0
    cpu_start: float | None = None  # the child's CPU clock when the current call was sent (cpu-clock jobs)
    next_check: float = 0.0  # when to read the child's CPU clock again
    child: Child | None = None
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    event_counts: dict[str, int] = field(default_factory=dict)
    spawned: int = 0
    nonce: str = ""
    # The host's gate: instance i (1 <= i <= held) is sent only once the host released it (i < released)
    held: int = 0
    released: int = 1
    # Run-queue waits (ns per thread) of the child when the current call was sent; None: not known
    waits_start: dict[str, int] | None = None
    # Remote calls forwarded to the host and not answered yet (request id -> argument bytes): the window
    # that paces the child (jobflow.RPC_WINDOW_*). Kept per job, across children: a replaced child's
    # calls still hold host memory until they are answered.
    rpc_out: dict[int, int] = field(default_factory=dict)
    rpc_out_bytes: int = 0

    def may_send(self) -> bool:
        """Whether instance `next_i` may be sent now (not held for the host's verdict on the one before)."""
        return self.next_i < self.released or self.next_i > self.held


def describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        hint = {
            "SIGKILL": " (CPU-time limit or killed)",
            "SIGXFSZ": " (file-size limit)",
            "SIGSYS": " (forbidden syscall)",
        }
        return f"killed by {name}{hint.get(name, '')}"
    return f"exited with code {os.WEXITSTATUS(status)}"
