"""A minimal ctypes binding of Linux Landlock (the three syscalls), used by each sandboxed child.

Why our own binding: the PyPI package covers file rules only, and we also want Landlock's TCP rules
(ABI 4: no bind/connect at all) and scoping (ABI 6: no signals to, and no abstract unix sockets of,
processes outside the child's own domain, e.g. the zygote). Everything the running kernel does not know is
left out of the handled sets, so the same code works on older ABIs (with less protection, reported).
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct

_SYSCALLS = {  # landlock_create_ruleset, landlock_add_rule, landlock_restrict_self
    "x86_64": (444, 445, 446),
    "aarch64": (444, 445, 446),
}
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REFER = 1 << 13
FS_TRUNCATE = 1 << 14
FS_IOCTL_DEV = 1 << 15
NET_BIND_TCP = 1 << 0
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1

READ_ONLY = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class LandlockError(OSError):
    """Landlock is missing or refused the ruleset."""


def _numbers() -> tuple[int, int, int] | None:
    return _SYSCALLS.get(platform.machine())


def abi_version() -> int:
    """The kernel's Landlock ABI (0 when Landlock is unavailable or disabled at boot)."""
    numbers = _numbers()
    if numbers is None:
        return 0
    version = _libc.syscall(numbers[0], None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION))
    return max(int(version), 0)


def fs_rights(abi: int) -> int:
    """Every filesystem right this ABI can restrict."""
    rights = (1 << 13) - 1  # EXECUTE .. MAKE_SYM (ABI 1)
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def build_ruleset(
    read_only: list[str], read_write: list[str], abi: int | None = None
) -> tuple[int, dict[str, bool]]:
    """A ruleset fd for these paths (no TCP, scoped signals); reusable by many `restrict_self` calls.

    Paths that do not exist are skipped. Returns the fd and which parts it enforces, e.g.
    {"fs": True, "tcp": True, "scope": True}.
    """
    numbers = _numbers()
    abi = abi_version() if abi is None else abi
    if numbers is None or abi < 1:
        raise LandlockError("landlock is not available on this kernel")
    create, add_rule, _ = numbers
    handled_fs = fs_rights(abi)
    handled_net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    if abi >= 6:
        attr = struct.pack("=QQQ", handled_fs, handled_net, scoped)
    elif abi >= 4:
        attr = struct.pack("=QQ", handled_fs, handled_net)
    else:
        attr = struct.pack("=Q", handled_fs)
    buf = ctypes.create_string_buffer(attr, len(attr))
    ruleset = int(_libc.syscall(create, buf, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0)))
    if ruleset < 0:
        raise LandlockError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for paths, rights in ((read_only, READ_ONLY), (read_write, handled_fs)):
            for path in paths:
                _add_path(add_rule, ruleset, path, rights & handled_fs)
    except BaseException:
        os.close(ruleset)
        raise
    return ruleset, {"fs": True, "tcp": bool(handled_net), "scope": bool(scoped)}


def allow_own_read(ruleset: int, path: str) -> None:
    """Add read access to one file of the calling process's own (`/proc/self/maps`) to `ruleset`.

    Called by the child after its fork and before `restrict_self`: the rule names the inode of this
    process's own file, so another process's file of the same name (`/proc/PID/maps`) stays refused.
    A path that cannot be opened is skipped (no /proc)."""
    numbers = _numbers()
    if numbers is None:
        raise LandlockError("landlock is not available on this kernel")
    _add_path(numbers[1], ruleset, path, FS_READ_FILE)


def restrict_self(ruleset: int) -> None:
    """Confine the calling thread (and threads it creates later) by `ruleset`; needs no_new_privs."""
    numbers = _numbers()
    if numbers is None or _libc.syscall(numbers[2], ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
        raise LandlockError(ctypes.get_errno(), "landlock_restrict_self failed")


def restrict(read_only: list[str], read_write: list[str], abi: int | None = None) -> dict[str, bool]:
    """Build a ruleset for these paths and confine the calling thread with it (see `build_ruleset`)."""
    ruleset, enforced = build_ruleset(read_only, read_write, abi)
    try:
        restrict_self(ruleset)
    finally:
        os.close(ruleset)
    return enforced


def _add_path(add_rule: int, ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if not os.path.isdir(path):
            rights &= _FILE_RIGHTS
        attr = ctypes.create_string_buffer(struct.pack("=Qi", rights, fd), 12)
        if (
            _libc.syscall(
                add_rule, ctypes.c_int(ruleset), ctypes.c_int(RULE_PATH_BENEATH), attr, ctypes.c_uint32(0)
            )
            != 0
        ):
            raise LandlockError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
    finally:
        os.close(fd)
