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
ENV = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/nonexistent",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MALLOC_ARENA_MAX": "2",
}
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
    args += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    return args


def strong_spec(index: int, shared_dir: str, uid_base: int = UID_BASE) -> LaunchSpec:
    """bubblewrap: own net/pid/ipc/uts namespaces, read-only view, tmpfs scratch, dies with the host."""
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
    for cap in CAPS:
        argv += ["--cap-add", cap]
    read_only = [
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
