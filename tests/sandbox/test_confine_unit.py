"""`confine.confine` applied to a forked process, without a sandbox: every layer read back by number.

The zygote calls `confine` in each fresh child before generated code runs. Here the test process forks,
the child confines itself exactly as the zygote's child does (pipes for the control channel and the
captured output, a scratch directory, the real Landlock ruleset and seccomp filter where the kernel has
them) and reports what it finds: its descriptors by inode, session, working directory, umask, uids,
environment, SIGPIPE, the parent-death signal, no_new_privs, seccomp mode, whether Landlock lets it write
outside its scratch. So a dropped or altered step fails here, in the fast suite, and not only as "some
error happened" in an end-to-end test.

The uid drop needs root (as the zygote has in strong mode); without root those
part is left out and the rest still runs.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import selftaught

INSIDE = str(Path(selftaught.__file__).parent / "sandbox" / "inside")
sys.path.insert(0, INSIDE)
try:
    import confine  # type: ignore[import-not-found]
    import landlock  # type: ignore[import-not-found]
    import seccomp  # type: ignore[import-not-found]
finally:
    sys.path.remove(INSIDE)

ROOT = os.geteuid() == 0
UID = 65534  # the user the confined child becomes when the test runs as root
# The highest descriptor this process may open (at most 2**20 - 1, fs.nr_open's default): closed too.
_HARD = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
FAR_FD = (1 << 20 if _HARD == resource.RLIM_INFINITY else min(_HARD, 1 << 20)) - 1
LANDLOCK = landlock.abi_version()
SECCOMP = seccomp.supported()
PR_GET_PDEATHSIG, PR_GET_SECCOMP, PR_GET_NO_NEW_PRIVS = 2, 21, 39

_libc = ctypes.CDLL(None, use_errno=True)


@dataclass
class Place:
    """Directories for one confined child: `scratch` (its own) inside `top`, beside a file it may not
    write (`outside`, world-writable, so only Landlock can refuse it)."""

    top: Path
    scratch: Path
    outside: Path


@pytest.fixture
def place() -> Iterator[Place]:
    top = Path(tempfile.mkdtemp(prefix="confine-unit-"))
    try:
        top.chmod(0o755)
        scratch = top / "scratch"
        scratch.mkdir(mode=0o700)
        outside = top / "outside"
        outside.write_text("")
        outside.chmod(0o666)
        if ROOT:
            os.chown(scratch, UID, UID)
        yield Place(top, scratch, outside)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _identity(fd: int) -> list[int] | None:
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return [st.st_dev, st.st_ino, st.st_rdev]


def _prctl_int(option: int) -> int:
    return int(_libc.prctl(option, 0, 0, 0, 0))


def _pdeathsig() -> int:
    sig = ctypes.c_int(-1)
    _libc.prctl(PR_GET_PDEATHSIG, ctypes.byref(sig), 0, 0, 0)
    return sig.value


def _can_write(path: Path) -> str:
    try:
        with open(path, "a") as fh:
            fh.write("x")
    except OSError as exc:
        return type(exc).__name__
    return "written"


def _can_read(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        return type(exc).__name__
    return "read"


def _report(place: Place) -> dict[str, Any]:
    """What the confined child finds about itself (only syscalls its seccomp filter allows)."""
    mask = os.umask(0)
    os.umask(mask)
    return {
        "fds": {str(fd): _identity(fd) for fd in range(0, 64)},
        "far": _identity(FAR_FD),
        "inheritable": [os.get_inheritable(fd) for fd in range(5)],
        "session_leader": os.getsid(0) == os.getpid(),
        "cwd": os.getcwd(),
        "umask": mask,
        "uids": list(os.getresuid()),
        "gids": list(os.getresgid()),
        "groups": os.getgroups(),
        "environ": dict(os.environ),
        "tempdir": tempfile.gettempdir(),
        "sigpipe_default": signal.getsignal(signal.SIGPIPE) == signal.SIG_DFL,
        "pdeathsig": _pdeathsig(),
        "no_new_privs": _prctl_int(PR_GET_NO_NEW_PRIVS),
        "seccomp": _prctl_int(PR_GET_SECCOMP),
        "cpu": list(resource.getrlimit(resource.RLIMIT_CPU)),
        "as": list(resource.getrlimit(resource.RLIMIT_AS)),
        "outside": _can_write(place.outside),
        "inside": _can_write(place.scratch / "mine"),
        "own_maps": _can_read("/proc/self/maps"),
        "own_status": _can_read("/proc/self/status"),
    }


@dataclass
class Ends:
    """The descriptors the parent made for the child, by identity (fd 3 and 4 are the control pipe)."""

    ctrl_in: list[int] | None
    ctrl_out: list[int] | None
    stdout: list[int] | None
    stderr: list[int] | None
    devnull: list[int] | None


def run_confined(
    place: Place,
    layers: Any,
    limits: Any | None = None,
    before: Callable[[], None] | None = None,
) -> tuple[dict[str, Any], Ends]:
    """Fork; the child runs `before`, then `confine`, then reports on fd 4 (the control pipe out)."""
    limits = limits or confine.Limits(cpu_seconds=30, address_space=0)
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    null = os.stat("/dev/null")
    ends = Ends(
        _identity(to_child_r),
        _identity(from_child_r),
        _identity(out_r),
        _identity(err_r),
        [null.st_dev, null.st_ino, null.st_rdev],
    )
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 0
        try:
            if before is not None:
                before()
            confine.confine((to_child_r, from_child_w), out_w, err_w, str(place.scratch), limits, layers)
            os.write(4, json.dumps(_report(place)).encode())
        except BaseException as exc:
            code = 1
            message = json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode()
            try:
                os.write(4, message)
            except OSError:
                os.write(from_child_w, message)
        finally:
            os._exit(code)
    for fd in (to_child_r, from_child_w, out_w, err_w):
        os.close(fd)
    with os.fdopen(from_child_r, "rb") as pipe:
        raw = pipe.read()
    os.waitpid(pid, 0)
    for fd in (to_child_w, out_r, err_r):
        os.close(fd)
    return json.loads(raw), ends


def layers(**given: Any) -> Any:
    settings: dict[str, Any] = {
        "uid": UID if ROOT else None,
        "landlock_abi": 0,
        "seccomp_filter": None,
        "read_only": [],
        "environment": {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    }
    return confine.Layers(**{**settings, **given})


def test_descriptors_session_directory_and_environment(place: Place) -> None:
    """Control pipe on 3 and 4, /dev/null on 0, the capture pipes on 1 and 2, nothing else open (not
    even the highest descriptor possible), none inherited across exec; a new session in the scratch,
    umask 077, SIGPIPE back to its default, the job's environment and nothing of the parent's."""

    def before() -> None:
        os.environ["ZYGOTE_SECRET"] = "leaked"
        tempfile.tempdir = "/zygote-choice"
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        # a descriptor at the top of the range the closing sweep must reach
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        os.dup2(0, FAR_FD)
        os.open("/dev/null", os.O_RDONLY)  # a stray low descriptor too

    found, ends = run_confined(place, layers(), before=before)
    assert "error" not in found, found
    fds = found["fds"]
    assert fds["3"] == ends.ctrl_in and fds["4"] == ends.ctrl_out
    assert fds["1"] == ends.stdout and fds["2"] == ends.stderr
    assert fds["0"] == ends.devnull
    assert [fd for fd, what in fds.items() if what is not None] == ["0", "1", "2", "3", "4"]
    assert found["far"] is None
    assert found["inheritable"] == [False] * 5
    assert found["session_leader"] and found["cwd"] == str(place.scratch) and found["umask"] == 0o077
    assert found["sigpipe_default"]
    home, tmp = str(place.scratch / ".home"), str(place.scratch / ".tmp")
    user = "nobody" if ROOT else confine._user_name(os.getuid())
    assert found["environ"] == {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": home,
        "TMPDIR": tmp,
        "USER": user,
        "LOGNAME": user,
    }
    assert found["tempdir"] == tmp  # the zygote's tempfile choice is forgotten
    assert found["pdeathsig"] == signal.SIGKILL and found["no_new_privs"] == 1
    assert found["cpu"] == [30, 30] and found["as"] == list(resource.getrlimit(resource.RLIMIT_AS))
    assert found["inside"] == "written"


@pytest.mark.skipif(not ROOT, reason="dropping to another uid needs root (as the zygote has)")
def test_the_child_runs_as_the_given_uid_with_no_groups(place: Place) -> None:
    found, _ = run_confined(place, layers())
    assert found["uids"] == [UID] * 3 and found["gids"] == [UID] * 3 and found["groups"] == []
    home = place.scratch / ".home"
    assert (home.stat().st_uid, home.stat().st_mode & 0o777) == (UID, 0o700)


def test_a_zero_cpu_limit_still_gives_one_second(place: Place) -> None:
    """RLIMIT_CPU 0 would end the child at once (the kernel reads 0 as "no time left"): at least 1 s."""
    found, _ = run_confined(place, layers(), confine.Limits(cpu_seconds=0, address_space=0))
    assert found["cpu"] == [1, 1]
    found, _ = run_confined(place, layers(), confine.Limits(cpu_seconds=2, address_space=0))
    assert found["cpu"] == [2, 2]


@pytest.mark.skipif(not LANDLOCK, reason="the kernel has no Landlock")
@pytest.mark.parametrize("prepared", [False, True])
def test_landlock_keeps_writes_inside_the_scratch(place: Place, prepared: bool) -> None:
    """With Landlock (a ruleset the child builds, or one the zygote prepared and parked on fd 5) the
    world-writable file beside the scratch is refused, the scratch is writable, and fd 5 is closed."""
    ruleset = None
    if prepared:
        ruleset, _ = landlock.build_ruleset(["/usr"], [str(place.scratch)], LANDLOCK)
    try:
        found, _ = run_confined(place, layers(landlock_abi=LANDLOCK, landlock_ruleset=ruleset))
    finally:
        if ruleset is not None:
            os.close(ruleset)
    assert "error" not in found, found
    assert (found["outside"], found["inside"]) == ("PermissionError", "written")
    # Its own memory map stays readable (threadpoolctl lists libraries there); other /proc files do not.
    assert (found["own_maps"], found["own_status"]) == ("read", "PermissionError")
    assert [fd for fd, what in found["fds"].items() if what is not None] == ["0", "1", "2", "3", "4"]
    without, _ = run_confined(place, layers())  # the control: no Landlock, the same file is writable
    assert without["outside"] == "written"


def test_a_prepared_ruleset_is_ignored_without_landlock(place: Place) -> None:
    """landlock_abi 0 (Landlock off) with a ruleset fd given: nothing is restricted, the fd is closed."""
    parked = os.open("/dev/null", os.O_RDONLY)
    try:
        found, _ = run_confined(place, layers(landlock_abi=0, landlock_ruleset=parked))
    finally:
        os.close(parked)
    assert "error" not in found, found
    assert found["outside"] == "written"
    assert [fd for fd, what in found["fds"].items() if what is not None] == ["0", "1", "2", "3", "4"]


@pytest.mark.skipif(not SECCOMP, reason="no seccomp syscall table for this machine")
def test_the_seccomp_filter_is_loaded_last(place: Place) -> None:
    found, _ = run_confined(place, layers(seccomp_filter=seccomp.Prepared(seccomp.build_filter())))
    assert "error" not in found, found
    assert found["seccomp"] == 2 and found["no_new_privs"] == 1
    assert run_confined(place, layers())[0]["seccomp"] == 0


BROKEN_FILTER = b"\xff\xff\x00\x00\x00\x00\x00\x00"  # one instruction with an opcode the kernel refuses


@pytest.mark.skipif(not LANDLOCK, reason="the kernel has no Landlock")
def test_a_layer_that_fails_aborts_a_strict_child_and_not_a_lenient_one(place: Place) -> None:
    """Strong mode (strict): a Landlock ruleset the kernel refuses, or a filter it refuses, ends the
    child with ConfineError naming the layer. Weak mode: the child goes on without that layer."""
    not_a_ruleset = os.open("/dev/null", os.O_RDONLY)
    try:
        for strict in (True, False):
            found, _ = run_confined(
                place, layers(landlock_abi=LANDLOCK, landlock_ruleset=not_a_ruleset, strict=strict)
            )
            if strict:
                assert found["error"].startswith("ConfineError: landlock:"), found
            else:
                assert "error" not in found and found["outside"] == "written", found
            found, _ = run_confined(place, layers(seccomp_filter=BROKEN_FILTER, strict=strict))
            if strict:
                assert found["error"].startswith("ConfineError: seccomp:"), found
            else:
                assert "error" not in found and found["seccomp"] == 0, found
    finally:
        os.close(not_a_ruleset)
    assert confine.Layers(uid=None, landlock_abi=0, seccomp_filter=None).strict is True


def test_job_environment_makes_private_home_and_tmp(tmp_path: Path) -> None:
    """HOME and TMPDIR are made (0700, whatever the umask) inside the scratch; calling it twice is fine;
    the base is copied, not changed."""
    base = {"PATH": "/bin"}
    old = os.umask(0)
    try:
        env = confine.job_environment(base, str(tmp_path))
        again = confine.job_environment(base, str(tmp_path))
    finally:
        os.umask(old)
    assert env == again and base == {"PATH": "/bin"}
    assert (env["HOME"], env["TMPDIR"]) == (str(tmp_path / ".home"), str(tmp_path / ".tmp"))
    for name in (".home", ".tmp"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o700
    assert env["USER"] == env["LOGNAME"] == confine._user_name(os.getuid())


def test_a_uid_without_a_name_is_called_sandbox() -> None:
    assert confine._user_name(0) == "root"
    assert confine._user_name(2**31 - 7) == "sandbox"


@pytest.mark.skipif(not ROOT, reason="dropping to another uid needs root (as the zygote has)")
@pytest.mark.parametrize("which, shift", [(0, -1), (0, 1), (1, -1), (1, 1)])
def test_a_uid_drop_that_lands_elsewhere_aborts_the_child(place: Place, which: int, shift: int) -> None:
    """`confine` reads the uids back after the drop: if the real (0) or effective (1) uid came out one
    below or one above the one asked for (a drop the kernel did not apply as asked), the child stops
    with ConfineError before any later layer. The drop is made off by one here in the child itself."""

    def before() -> None:
        real = os.setresuid

        def off_by_one(r: int, e: int, s: int) -> None:
            ids = [r, e, s]
            ids[which] += shift
            real(*ids)

        os.setresuid = off_by_one  # type: ignore[assignment]  # this forked child's os module only

    found, _ = run_confined(place, layers(), before=before)
    assert found.get("error") == "ConfineError: uid drop did not take effect", found
