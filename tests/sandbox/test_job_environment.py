"""A job's environment is an ordinary process's: home, user, temporary directory, locale, PATH.

On the real sandbox (strong mode, the module's pool; weak mode for what it offers). The host's own
environment (a fake API key, its HOME) must still never reach a job.
"""

from __future__ import annotations

import os
import sys

import pytest

from selftaught.sandbox import Job, SandboxPool
from selftaught.sandbox.selfcheck import JOB_ENV_NAMES

from .util import FAKE_KEY

PROGRAM = """
import getpass, locale, os, pathlib, pwd, shutil, sys, tempfile

def look():
    home = pathlib.Path.home()
    (home / ".cache" / "lib").mkdir(parents=True)
    (home / ".cache" / "lib" / "x").write_text("cached")
    with tempfile.NamedTemporaryFile(delete=False) as handle:
        handle.write(b"t")
    entry = pwd.getpwuid(os.getuid())
    return {
        "env": dict(os.environ),
        "home": str(home),
        "expanduser": os.path.expanduser("~"),
        "cwd": os.getcwd(),
        "tmp": tempfile.gettempdir(),
        "tmpfile": handle.name,
        "user": getpass.getuser(),
        "pw_name": entry.pw_name,
        "pw_uid": entry.pw_uid,
        "gr": __import__("grp").getgrgid(os.getgid()).gr_name,
        "uid": os.getuid(),
        "encoding": locale.getpreferredencoding(False),
        "fs": sys.getfilesystemencoding(),
        "python": shutil.which("python") or shutil.which("python3") or "",
        "executable": sys.executable,
    }
"""


def _look(pool: SandboxPool) -> dict:
    result = pool.run(Job(source=PROGRAM, entry="look", instances=[[]], memory_mb=256))
    output = result.instances[0].output
    assert output is not None, (result.setup_error, result.instances[0].error, result.stderr)
    return output


def test_a_job_has_a_home_a_user_a_temporary_directory_and_a_utf8_locale(pool: SandboxPool) -> None:
    seen = _look(pool)
    env = seen["env"]
    assert set(env) <= JOB_ENV_NAMES and {"HOME", "TMPDIR", "USER", "LOGNAME", "PATH", "LANG"} <= set(env)
    # HOME and TMPDIR are writable directories of the job's own scratch (its working directory).
    assert seen["home"] == seen["expanduser"] == env["HOME"] == os.path.join(seen["cwd"], ".home")
    assert seen["tmp"] == env["TMPDIR"] == os.path.join(seen["cwd"], ".tmp")
    assert seen["tmpfile"].startswith(seen["tmp"] + "/")
    # The sandbox uid has a name of its own (a synthetic passwd entry), the same by every route.
    assert seen["uid"] >= 61000 and seen["pw_uid"] == seen["uid"]
    assert seen["user"] == seen["pw_name"] == env["USER"] == env["LOGNAME"] == seen["gr"]
    assert seen["pw_name"].startswith("sandbox-")
    assert seen["encoding"].lower().replace("-", "") == "utf8" and seen["fs"] == "utf-8"
    assert env["PATH"].split(":")[0] == os.path.dirname(sys.executable)
    assert seen["python"].startswith(os.path.dirname(sys.executable))


def test_the_host_environment_still_never_reaches_a_job(pool: SandboxPool) -> None:
    """Control beside the new variables: the host's key and home stay out, values are the sandbox's."""
    assert os.environ.get("OPENAI_API_KEY") == FAKE_KEY
    seen = _look(pool)
    text = repr(seen)
    assert FAKE_KEY not in text
    host_home = os.path.expanduser("~")
    assert all(not value.startswith(host_home + "/") and value != host_home for value in seen["env"].values())


PASSWD = """
def lines():
    with open("/etc/passwd") as handle:
        return handle.read().splitlines()
"""


def test_the_passwd_file_names_only_the_sandbox_s_users(pool: SandboxPool) -> None:
    """The synthetic /etc/passwd lists root, nobody and sandbox uids: none of the host's users."""
    result = pool.run(Job(source=PASSWD, entry="lines", instances=[[]]))
    lines = result.instances[0].output
    assert lines, result
    names = {line.split(":")[0] for line in lines}
    assert {"root", "nobody"} <= names
    assert all(name in ("root", "nobody") or name.startswith("sandbox-") for name in names)
    with open("/etc/passwd") as handle:
        host_users = {line.split(":")[0] for line in handle if line.strip()} - {"root", "nobody"}
    assert not names & host_users


def test_each_job_gets_a_fresh_home(pool: SandboxPool) -> None:
    """What one job leaves in its home is gone for the next (homes live in the wiped scratch)."""
    program = """
import os, pathlib
def f(mark):
    home = pathlib.Path.home()
    before = sorted(p.name for p in home.iterdir())
    (home / mark).write_text(mark)
    return before
"""
    first = pool.run(Job(source=program, entry="f", instances=[["one"]]))
    second = pool.run(Job(source=program, entry="f", instances=[["two"]]))
    assert first.instances[0].output == [] and second.instances[0].output == []


@pytest.mark.slow
def test_weak_mode_gives_home_tmpdir_and_user_too() -> None:
    """Weak mode shows no passwd file (the host's lists its users), but HOME, TMPDIR and USER are set."""
    program = """
import os, tempfile
def f():
    return [os.path.expanduser("~"), tempfile.gettempdir(), os.environ["USER"], os.getcwd()]
"""
    with SandboxPool(1, mode="weak") as weak:
        result = weak.run(Job(source=program, entry="f", instances=[[]]))
    assert result.instances[0].output, (result.instances[0].error, result.setup_error, result.stderr)
    home, tmp, user, cwd = result.instances[0].output
    assert home == os.path.join(cwd, ".home") and tmp == os.path.join(cwd, ".tmp") and user
