"""The default OpenEvolve STOP run, started from the task's own directory, has no resource failure.

Broke (third red team): run from `examples/openevolve_minimize` with an earlier run in its `runs/`, the
default `--tests 5` failed 12-16 of ~33 evaluations with ENOSPC (stored as utility 0, so a resume
never redoes them): every job got a copy of `runs/`, and each child kept a 256 MiB scratch grant of
its zygote's 1 GiB for its whole life, so later children got 1 MiB. Here the directory also holds
3 MB of plain data the evaluator may read (copied into every job, as it should be) and an earlier
run's stores (never copied).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from selftaught.sandbox import SandboxPool
from selftaught.tasks import load_task
from selftaught.tasks.openevolve import OpenEvolveTask

pytestmark = [pytest.mark.slow, pytest.mark.long]  # a whole CLI run in a subprocess; tens of seconds each

EXAMPLE = Path(__file__).parents[2] / "examples" / "openevolve_minimize"
RESOURCE_FAILURES = (
    "No space left",
    "Errno 28",
    "could not start",
    "too many children",
    "scratch",
    "buffers are full",
    "worker died",
    "did not answer a cancel",
)
TIMEOUTS = ("past its limit", "timeout", "time is up")


def _store(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("create table t (x blob)")
        db.execute("insert into t values (?)", (os.urandom(size),))
    db.close()


def test_the_default_openevolve_run_from_its_own_directory_has_no_resource_failure(tmp_path: Path) -> None:
    directory = tmp_path / "openevolve_minimize"
    shutil.copytree(EXAMPLE, directory)
    (directory / "data").mkdir()
    for name in ("a", "b"):
        (directory / "data" / f"{name}.bin").write_bytes(os.urandom(1_500_000))
    _store(directory / "runs" / "earlier" / "run.sqlite", 1_200_000)
    _store(directory / "runs" / "earlier" / "lm_cache.sqlite", 1_200_000)
    done = subprocess.run(
        [sys.executable, "-m", "selftaught", "run", "--task", "openevolve:.", "--iterations", "0", "--json"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["status"] == "completed"
    with sqlite3.connect(directory / result["path"] / "run.sqlite") as db:
        evaluations = db.execute(
            "select e.setup_error, e.artifacts, p.source from evaluations e join programs p"
            " on p.sha = e.program_sha"
        ).fetchall()
        runs = db.execute("select status, error from improver_runs").fetchall()
    db.close()
    assert len(evaluations) >= 20 and len(runs) >= 5  # five tests of the seed improver, val and test
    said = [f"{error or ''} {artifacts}" for error, artifacts, _ in evaluations]
    said += [f"{status} {error or ''}" for status, error in runs]
    assert not [text for text in said if any(word in text for word in RESOURCE_FAILURES)]
    # A timeout is the program's own only if the program also times out alone.
    timed_out = [source for error, _, source in evaluations if any(w in (error or "") for w in TIMEOUTS)]
    if timed_out:
        task = load_task(f"openevolve:{directory}")
        assert isinstance(task, OpenEvolveTask)
        with SandboxPool(workers=1) as alone:
            for source in timed_out:
                again = task.evaluate(source, executor=alone)
                assert again.setup_error is not None and any(w in again.setup_error for w in TIMEOUTS)
