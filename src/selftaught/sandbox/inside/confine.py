"""Turn a freshly forked zygote child into a confined process, before any generated code runs.

Order matters: descriptors and session first (nothing inherited leaks), then rlimits while we may still
lower hard limits, then the uid drop (which also clears capabilities and the parent-death signal, so that
is set afterwards), then no_new_privs, Landlock and seccomp (the last layer; it also forbids undoing the
others). Each step either succeeds or, in strong mode, aborts the child: generated code never runs with
a layer silently missing.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import pwd
import resource
import signal
import sys
from dataclasses import dataclass, field

import landlock
import libthreads
import seccomp

PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None)  # loaded once in the zygote, not per child
OUTPUT_FD_LIMIT = 128
RULESET_FD = 5  # where a prepared Landlock ruleset is parked while every other fd is closed
_PARKED = 10  # descriptors are first copied to this number or above, clear of every target (0..5)
_FD_CEILING = 1_048_576  # fs.nr_open's default: no descriptor is numbered this high


@dataclass
class Limits:
    """Per-child resource limits (soft = hard, so the program cannot raise them back)."""

    cpu_seconds: int
    address_space: int  # bytes; 0 = unlimited
    file_size: int = 256 << 20
    open_files: int = OUTPUT_FD_LIMIT
    processes: int = 64  # threads count against this, per uid


@dataclass
class Layers:
    """Which layers a child must apply; `strict` makes any failure fatal (strong mode)."""

    uid: int | None
    landlock_abi: int
    seccomp_filter: bytes | seccomp.Prepared | None
    read_only: list[str] = field(default_factory=list)
    strict: bool = True
    # A ruleset the zygote built for this child alone (read-only list + this child's scratch dir);
    # None: the child builds the same itself.
    landlock_ruleset: int | None = None
    # What every job's environment starts from (PATH, locale, thread counts: never a host secret);
    # `job_environment` adds the per-child HOME, TMPDIR, USER and LOGNAME.
    environment: dict[str, str] = field(default_factory=dict)
    # Threads the job's numerical libraries may start (`libthreads`): 1 unless the host asked for more.
    library_threads: int = 1


# Files of the child's own process it may read (they describe only itself). `/proc/self/maps` is how
# threadpoolctl (scipy, scikit-learn) lists the loaded libraries; another process's maps stays refused
# (by Landlock's rules, by the uid and by Landlock's ptrace scoping).
OWN_PROC_FILES = ("/proc/self/maps",)

HOME_DIR = ".home"  # HOME and TMPDIR: hidden directories of the child's own scratch (glob("*") skips them)
TMP_DIR = ".tmp"


class ConfineError(Exception):
    """A required layer could not be applied; the child must not run the program."""


def _set_limits(limits: Limits) -> None:
    pairs = [
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_CPU, max(1, limits.cpu_seconds)),
        (resource.RLIMIT_FSIZE, limits.file_size),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_NPROC, limits.processes),
        # No real-time scheduling and no raised priority, whatever the host allows its users (a
        # SCHED_FIFO busy loop would starve the zygote, the host and every other child on that core).
        (resource.RLIMIT_RTPRIO, 0),
        (resource.RLIMIT_NICE, 0),
    ]
    if limits.address_space:
        pairs.append((resource.RLIMIT_AS, limits.address_space))
    for which, value in pairs:
        resource.setrlimit(which, (value, value))


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except (KeyError, OSError):
        return "sandbox"


def job_environment(base: dict[str, str], scratch: str) -> dict[str, str]:
    """An ordinary process's environment for a job: `base` plus HOME and TMPDIR in its scratch (made
    here, so `Path.home()`, `~/.cache` and `tempfile` work) and the user's name.

    Called after the uid drop, so the directories belong to the job's uid. Why: libraries look for a
    home directory, a temporary directory and a user name at import or first use (a cache under
    `~/.cache`, `getpass.getuser()`), and fail where a shell would not.
    """
    env = dict(base)
    for key, name in (("HOME", HOME_DIR), ("TMPDIR", TMP_DIR)):
        path = os.path.join(scratch, name)
        os.makedirs(path, mode=0o700, exist_ok=True)
        env[key] = path
    env["USER"] = env["LOGNAME"] = _user_name(os.getuid())
    return env


def _adopt_environment(env: dict[str, str]) -> None:
    os.environ.clear()
    os.environ.update(env)
    tempfile = sys.modules.get("tempfile")
    if tempfile is not None:
        tempfile.tempdir = None  # type: ignore[attr-defined]  # the zygote's choice is forgotten


def confine(
    keep_fds: tuple[int, int], stdout_fd: int, stderr_fd: int, scratch: str, limits: Limits, layers: Layers
) -> None:
    """Apply every layer to the calling (just forked, single-threaded) process.

    `keep_fds` (the control pipe ends) are moved to 3 and 4; stdin becomes /dev/null; stdout/stderr the
    capture pipes; every other descriptor is closed.
    """
    os.setsid()
    devnull = os.open("/dev/null", os.O_RDONLY)
    rfd, wfd = keep_fds
    # Copy the pipes clear of 0..5 first so that dup2 onto 0..5 never clobbers one not yet moved.
    keep = [devnull, stdout_fd, stderr_fd, rfd, wfd]
    ruleset = None
    if layers.landlock_ruleset is not None and layers.landlock_abi:
        keep.append(layers.landlock_ruleset)
        ruleset = RULESET_FD
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, _PARKED) for fd in keep]
    for target, fd in enumerate(moved):
        os.dup2(fd, target, inheritable=False)
    os.closerange(len(moved), _FD_CEILING)
    os.chdir(scratch)
    os.environ.clear()  # nothing of the zygote's; the job's own environment is set once its uid is
    os.umask(0o077)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    _set_limits(limits)
    if layers.uid is not None:
        os.setgroups([])
        os.setresgid(layers.uid, layers.uid, layers.uid)
        os.setresuid(layers.uid, layers.uid, layers.uid)
        if os.getuid() != layers.uid or os.geteuid() != layers.uid:
            raise ConfineError("uid drop did not take effect")
    base = layers.environment
    if layers.library_threads != 1:
        base = libthreads.environment(base, layers.library_threads)
    _adopt_environment(job_environment(base, scratch))
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the kernel reads no other argument of this option
    seccomp.set_no_new_privs()
    if layers.landlock_abi:
        try:
            if ruleset is None:
                ruleset, _ = landlock.build_ruleset(layers.read_only, [scratch], layers.landlock_abi)
            for path in OWN_PROC_FILES:  # opened now, after the fork: this process's own inode
                landlock.allow_own_read(ruleset, path)
            landlock.restrict_self(ruleset)
        except OSError as exc:
            if layers.strict:
                raise ConfineError(f"landlock: {exc}") from None
        finally:
            if ruleset is not None:  # closed whichever way it ended: no ruleset left to the program
                os.close(ruleset)
    if layers.seccomp_filter is not None:
        try:
            seccomp.load(layers.seccomp_filter)
        except OSError as exc:
            if layers.strict:
                raise ConfineError(f"seccomp: {exc}") from None
    # Last, once every layer is in force: any thread the BLAS starts now inherits them all (Landlock and
    # seccomp bind the calling thread and the threads it creates afterwards, never earlier ones).
    libthreads.apply(layers.library_threads)
