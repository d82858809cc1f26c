"""Which isolation layers this machine offers, probed for real (not guessed from versions).

`check_layers()` feeds `selftaught doctor` and the strong-mode gate of `SandboxPool`: every layer says
whether it is available, whether the given mode uses it, why not, and how to get it.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from typing import Any, Literal

from selftaught.errors import SandboxUnavailable

Mode = Literal["strong", "weak"]
WEAK_HINT = "or pass --sandbox=weak to run with the layers that exist (logged loudly)"


@dataclass(frozen=True)
class LayerStatus:
    """One isolation layer: `available` on this machine, `active` in the checked mode, `detail` says why."""

    name: str
    available: bool
    active: bool
    detail: str
    fix: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@functools.lru_cache(maxsize=1)
def _bwrap_probe() -> tuple[bool, str]:
    path = shutil.which("bwrap")
    if path is None:
        return False, "bwrap not found"
    argv = [
        path,
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-uts",
        "--die-with-parent",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "true",
    ]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bwrap failed to start: {exc}"
    if proc.returncode != 0:
        return False, f"bwrap cannot create namespaces: {proc.stderr.strip()[:200]}"
    return True, f"{path}: net, pid, ipc, uts and mount namespaces, read-only view"


@functools.lru_cache(maxsize=1)
def _seccomp_probe() -> tuple[bool, str]:
    # Linux-only ctypes bindings: imported only after the platform check.
    from selftaught.sandbox.inside import seccomp

    if not seccomp.supported():
        return False, "no syscall table for this CPU architecture"
    program = seccomp.build_filter()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            seccomp.set_no_new_privs()
            seccomp.load(program)
            try:
                os.fork()
            except PermissionError:
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return True, "classic-BPF deny-list filter loads and blocks fork"
    return False, "the kernel refused the seccomp filter (CONFIG_SECCOMP_FILTER off?)"


def _landlock() -> tuple[bool, str]:
    from selftaught.sandbox.inside import landlock

    abi = landlock.abi_version()
    if abi < 1:
        return False, "Landlock unavailable (kernel < 5.13, or 'landlock' missing from the lsm= boot list)"
    parts = ["files"]
    if abi >= 4:
        parts.append("no TCP bind/connect")
    if abi >= 6:
        parts.append("signal and abstract-socket scoping")
    return True, f"ABI {abi}: " + ", ".join(parts)


def check_layers(mode: Mode = "strong") -> list[LayerStatus]:
    """Probe every layer; `active` says whether a pool in `mode` would use it."""
    if not sys.platform.startswith("linux"):
        fix = "run on Linux (or in a Linux VM or container)"
        return [LayerStatus("linux", False, False, f"the sandbox needs Linux, this is {sys.platform}", fix)]
    statuses = [LayerStatus("linux", True, True, os.uname().release)]
    bw_ok, bw_detail = _bwrap_probe()
    statuses.append(
        LayerStatus(
            "bubblewrap",
            bw_ok,
            bw_ok,
            bw_detail,
            ""
            if bw_ok
            else "apt-get install bubblewrap (namespaces must be allowed: not Docker's default profile)",
        )
    )
    root = os.geteuid() == 0
    statuses.append(
        LayerStatus(
            "uid-drop",
            root,
            root,
            "children run as uids 61000+ (distinct from the host)"
            if root
            else "the host is not root, cannot switch uid",
            "" if root else "run as root (the children never are)",
        )
    )
    ll_ok, ll_detail = _landlock()
    statuses.append(
        LayerStatus(
            "landlock", ll_ok, ll_ok, ll_detail, "" if ll_ok else "use a kernel >= 6.7 with landlock enabled"
        )
    )
    sc_ok, sc_detail = _seccomp_probe()
    statuses.append(
        LayerStatus(
            "seccomp", sc_ok, sc_ok, sc_detail, "" if sc_ok else "use a kernel with CONFIG_SECCOMP_FILTER"
        )
    )
    statuses.append(
        LayerStatus(
            "rlimits", True, True, "CPU, address space, file size, open files, processes, no core dumps"
        )
    )
    if mode == "weak":
        statuses = [
            LayerStatus(s.name, s.available, False, "weak mode does not use namespaces", s.fix)
            if s.name == "bubblewrap"
            else s
            for s in statuses
        ]
    return statuses


def require_strong(statuses: list[LayerStatus]) -> None:
    """Raise SandboxUnavailable naming the first missing layer and how to get it."""
    for status in statuses:
        if not status.available:
            raise SandboxUnavailable(
                f"sandbox layer '{status.name}' is unavailable: {status.detail}; fix: {status.fix} ({WEAK_HINT})"
            )


def weak_reason(statuses: list[LayerStatus]) -> str:
    """One line for every weak-mode result: what is missing."""
    missing = [s.name for s in statuses if not s.active]
    return (
        "WEAK SANDBOX: running without "
        + (", ".join(missing) if missing else "namespaces")
        + "; generated code is less isolated (see `selftaught doctor`)"
    )
