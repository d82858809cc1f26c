"""How a zygote process is started: the bubblewrap command line (strong) or a plain interpreter (weak).

The read-only view contains only what generated code may need: /usr and the dynamic loader's cache,
the interpreter's base prefix, the virtualenv, the `inside/` directory (mounted at /sandbox, first on
sys.path so `import helpers` works), the stdlib-only reply extractor `codetext/` (at /codetext, next on
sys.path, so `helpers` reads replies with the host's rules) and the shared-inputs directory (at /inputs). Not the selftaught
source tree, not $HOME, not the run store, not /etc. The environment is rebuilt from scratch, so no host
secret (API keys) ever reaches the zygote.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy

INSIDE_DIR = str(Path(__file__).resolve().parent / "inside")
CODETEXT_DIR = str(Path(__file__).resolve().parent.parent / "codetext")
SANDBOX_MOUNT = "/sandbox"
CODETEXT_MOUNT = "/codetext"
INPUTS_MOUNT = "/inputs"
SCRATCH_MOUNT = "/scratch"
UID_BASE = 61000  # the first block's base (sandbox.uids allocates each zygote its own block)
SCRATCH_BYTES = 1 << 30
CHILD_CAP = 32 << 20  # largest message a child may send (outputs, rpc arguments)
OUTPUT_CAP = 64 << 10  # captured stdout / stderr per job
# The interpreter's own bin first (a virtualenv's `python`, its console scripts), then the system's.
PATH = ":".join(dict.fromkeys([os.path.dirname(sys.executable), "/usr/bin", "/bin"]))
# What every job's environment holds besides its own HOME, TMPDIR, USER and LOGNAME (added per child
# by `inside/confine.job_environment`): nothing of the host's environment.
JOB_ENV = {
    "PATH": PATH,
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MALLOC_ARENA_MAX": "2",
}
ENV = {**JOB_ENV, "HOME": "/nonexistent"}  # the zygote's
ETC_FILES = ("passwd", "group")
# CAP_SYS_ADMIN: the zygote mounts each child's own scratch tmpfs (`inside/scratch.mount_tmpfs`); children
# drop every capability before generated code runs, so it never holds any of these.
CAPS = (
    "CAP_SETUID",
    "CAP_SETGID",
    "CAP_KILL",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_SYS_ADMIN",
)


def python_paths() -> list[str]:
    """Directories the interpreter and its packages live in (deduplicated, outermost first)."""
    candidates = [
        sys.base_prefix,
        sys.prefix,
        sysconfig.get_paths()["purelib"],
        sysconfig.get_paths()["platlib"],
        str(Path(numpy.__file__).resolve().parent.parent),
        str(Path(sys.executable).resolve().parent.parent),
    ]
    roots: list[str] = []
    for path in sorted({os.path.realpath(p) for p in candidates}, key=len):
        if not any(path == r or path.startswith(r + "/") for r in roots):
            roots.append(path)
    return roots


def site_dirs() -> list[str]:
    """Where third-party packages (numpy) are importable from."""
    dirs = [
        sysconfig.get_paths()["purelib"],
        sysconfig.get_paths()["platlib"],
        str(Path(numpy.__file__).resolve().parent.parent),
    ]
    return list(dict.fromkeys(os.path.realpath(d) for d in dirs))


def bootstrap_code(inside: str, codetext: str) -> str:
    return f"import sys; sys.path[:0] = {[inside, codetext, *site_dirs()]!r}; import zygote; zygote.main()"


@dataclass(frozen=True)
class LaunchSpec:
    """Everything needed to start zygote number `index`."""

    argv: list[str]
    env: dict[str, str]


def _config(
    index: int, strong: bool, uid_base: int | None, scratch_root: str, shared_dir: str, read_only: list[str]
) -> str:
    config: dict[str, Any] = {
        "index": index,
        "uid_base": uid_base,
        "scratch_root": scratch_root,
        "shared_dir": shared_dir,
        "read_only": read_only,
        "landlock": True,
        "seccomp": True,
        "strict": strong,
        "child_cap": CHILD_CAP,
        "output_cap": OUTPUT_CAP,
        "environment": JOB_ENV,
    }
    return json.dumps(config)


def _system_binds() -> list[str]:
    args: list[str] = ["--ro-bind", "/usr", "/usr"]
    for name in ("lib", "lib64", "lib32", "libx32", "bin", "sbin"):
        path = f"/{name}"
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    # /etc made by hand: bwrap would make it 0700 for the binds below, and the sandbox uids must
    # traverse it to read the synthetic passwd (`identity_files`).
    args += ["--perms", "0755", "--dir", "/etc", "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    return args


def identity_files(directory: str, uid_base: int, count: int) -> str:
    """Write a synthetic /etc/passwd and /etc/group naming the zygote's `count` sandbox uids; returns
    `directory`.

    Why: `pwd.getpwuid(os.getuid())`, `getpass.getuser()` and tools built on them fail for a uid the
    system does not know. The host's own files are never shown (they list the host's users): each
    sandbox uid is user `sandbox-N` of its own group, home the scratch root (a job's HOME variable
    points at its own writable home in its scratch).
    """
    os.makedirs(directory, mode=0o755, exist_ok=True)
    users = [
        "root:x:0:0:root:/root:/usr/sbin/nologin",
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
    ]
    groups = ["root:x:0:", "nogroup:x:65534:"]
    for offset in range(count):
        uid = uid_base + offset
        users.append(f"sandbox-{offset}:x:{uid}:{uid}:sandbox job:{SCRATCH_MOUNT}:/bin/sh")
        groups.append(f"sandbox-{offset}:x:{uid}:")
    for name, lines in zip(ETC_FILES, (users, groups), strict=True):
        path = os.path.join(directory, name)
        with open(path + ".new", "w", encoding="ascii") as handle:
            handle.write("\n".join(lines) + "\n")
        os.chmod(path + ".new", 0o644)
        os.replace(path + ".new", path)
    return directory


def strong_spec(
    index: int, shared_dir: str, uid_base: int = UID_BASE, etc_dir: str | None = None
) -> LaunchSpec:
    """bubblewrap: own net/pid/ipc/uts namespaces, read-only view, tmpfs scratch, dies with the host.

    `etc_dir` holds the synthetic `passwd` and `group` (`identity_files`), bound read-only at /etc."""
    bwrap = shutil.which("bwrap") or "bwrap"
    argv = [
        bwrap,
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--hostname",
        "sandbox",
        *_system_binds(),
        # /tmp first: the interpreter or venv may live under /tmp (a CI clone), and a later tmpfs
        # would hide it.
        "--tmpfs",
        "/tmp",
    ]
    made: set[str] = {"/tmp"}
    for path in python_paths():
        # bwrap would create the missing parents (e.g. /root) as 0700: the sandbox uid could not traverse.
        for parent in reversed(Path(path).parents):
            if (
                str(parent) not in ("/", "/usr")
                and str(parent) not in made
                and not str(parent).startswith("/usr/")
            ):
                made.add(str(parent))
                argv += ["--perms", "0755", "--dir", str(parent)]
        argv += ["--ro-bind", path, path]
    argv += [
        "--ro-bind",
        INSIDE_DIR,
        SANDBOX_MOUNT,
        "--ro-bind",
        CODETEXT_DIR,
        CODETEXT_MOUNT,
        "--ro-bind",
        shared_dir,
        INPUTS_MOUNT,
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--size",
        str(SCRATCH_BYTES),
        "--tmpfs",
        SCRATCH_MOUNT,
        "--chdir",
        SCRATCH_MOUNT,
    ]
    etc = [f"/etc/{name}" for name in ETC_FILES] if etc_dir is not None else []
    for path in etc:
        argv += ["--ro-bind", os.path.join(str(etc_dir), os.path.basename(path)), path]
    for cap in CAPS:
        argv += ["--cap-add", cap]
    read_only = [
        *etc,
        *python_paths(),
        "/usr",
        SANDBOX_MOUNT,
        CODETEXT_MOUNT,
        INPUTS_MOUNT,
        "/etc/ld.so.cache",
        "/dev/null",
        "/dev/urandom",
        "/dev/zero",
    ]
    config = _config(index, True, uid_base, SCRATCH_MOUNT, INPUTS_MOUNT, read_only)
    argv += [
        "--",
        sys.executable,
        "-I",
        "-S",
        "-B",
        "-c",
        bootstrap_code(SANDBOX_MOUNT, CODETEXT_MOUNT),
        config,
    ]
    return LaunchSpec(argv, dict(ENV))


def weak_spec(index: int, shared_dir: str, scratch_root: str, uid_base: int | None) -> LaunchSpec:
    """A plain interpreter on the host, with whichever in-process layers exist."""
    read_only = [
        *python_paths(),
        "/usr",
        "/lib",
        "/lib64",
        INSIDE_DIR,
        CODETEXT_DIR,
        shared_dir,
        "/etc/ld.so.cache",
        "/dev/null",
        "/dev/urandom",
        "/dev/zero",
    ]
    config = _config(index, False, uid_base, scratch_root, shared_dir, read_only)
    argv = [sys.executable, "-I", "-S", "-B", "-c", bootstrap_code(INSIDE_DIR, CODETEXT_DIR), config]
    return LaunchSpec(argv, dict(ENV))
