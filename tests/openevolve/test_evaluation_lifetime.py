"""Every process of an OpenEvolve evaluation ends with it; evaluations share the executor's one fair
CPU gate; no store of an earlier run is copied into a job.

Red-team attacks (each beside an honest control, each failing on the code before these guarantees):
a candidate that disarms its timer and spins after the evaluator returned, a script the evaluator
left running, one improver firing 25 slow evaluations beside an honest one, and a candidate reading
the run store and LM cache left in the task directory by an earlier run.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from selftaught.sandbox import SandboxPool
from selftaught.sandbox.fairness import owned_by
from selftaught.tasks import load_task
from selftaught.tasks.openevolve import OpenEvolveEvaluation, OpenEvolveTask

pytestmark = pytest.mark.slow  # end to end: real sandbox jobs

POINT = Path(__file__).parent / "fixtures" / "point_direct"
HONEST_POINT = "def propose():\n    return 0.2, 0.1\n"
HONEST_SCORE = 0.2829  # closeness(0.2, 0.1) in the fixture's evaluator: exp(-(0.64 + 4.41) / 4)

DISARM = "    signal.setitimer(signal.ITIMER_REAL, 0)\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
IMPORT_CANDIDATE = (
    "    spec = importlib.util.spec_from_file_location('candidate', program_path)\n"
    "    module = importlib.util.module_from_spec(spec)\n"
    "    spec.loader.exec_module(module)\n"
)


@pytest.fixture(scope="module")
def pool() -> Iterator[SandboxPool]:
    executor = SandboxPool(workers=2)
    try:
        yield executor
    finally:
        executor.close()


def live_jobs(pool: SandboxPool) -> int:
    """Jobs the pool's zygotes still run (a job is unregistered only once its child is reaped)."""
    return sum(zygote.load for zygote in pool._zygotes)


def task_in(directory: Path, evaluator: str, program: str, timeout: int = 60) -> OpenEvolveTask:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "evaluator.py").write_text(evaluator)
    (directory / "initial_program.py").write_text(program)
    (directory / "config.yaml").write_text(f"evaluator:\n  timeout: {timeout}\n")
    task = load_task(f"openevolve:{directory}")
    assert isinstance(task, OpenEvolveTask)
    return task


def evaluate(task: OpenEvolveTask, source: str, pool: SandboxPool) -> OpenEvolveEvaluation:
    evaluation = task.evaluate(source, executor=pool)
    assert isinstance(evaluation, OpenEvolveEvaluation)
    return evaluation


# ---------------------------------------------------------------- processes end with the evaluation

LEAVING_EVALUATOR = (
    "import importlib.util, threading, time\n\n\n"
    "def evaluate(program_path):\n"
    + IMPORT_CANDIDATE
    + "    threading.Thread(target=module.work, daemon=True).start()\n"
    "    time.sleep(1.0)\n"
    "    return {'combined_score': 0.5}\n"
)
SPINNER = "import signal\n\n\ndef work():\n" + DISARM + "    while True:\n        pass\n"
SLEEPER = "import signal, time\n\n\ndef work():\n" + DISARM + "    time.sleep(1000)\n"
QUICK = "def work():\n    return 1\n"


@pytest.mark.parametrize("candidate", [SPINNER, SLEEPER], ids=["spinner", "sleeper"])
def test_a_candidate_session_that_disarms_its_timer_ends_with_the_evaluation(
    pool: SandboxPool, tmp_path: Path, candidate: str
) -> None:
    """The evaluator returns while a call into the candidate still runs (its timer disarmed): once the
    evaluation is over, no job of it is left in the pool (before: it ran to the evaluation's deadline)."""
    task = task_in(tmp_path, LEAVING_EVALUATOR, QUICK)
    evaluation = evaluate(task, candidate, pool)
    assert evaluation.utility == pytest.approx(0.5)  # the evaluator's own answer stands
    assert live_jobs(pool) == 0


def test_an_honest_session_ends_with_its_evaluation_too(pool: SandboxPool, tmp_path: Path) -> None:
    task = task_in(tmp_path, LEAVING_EVALUATOR, QUICK)
    assert evaluate(task, QUICK, pool).utility == pytest.approx(0.5)
    assert live_jobs(pool) == 0
    assert evaluate(load_task(f"openevolve:{POINT}"), HONEST_POINT, pool).utility == pytest.approx(  # type: ignore[arg-type]
        HONEST_SCORE, abs=1e-4
    )
    assert live_jobs(pool) == 0


SCRIPT_LEAVING_EVALUATOR = (
    "import subprocess, sys, time\n\n\n"
    "def evaluate(program_path):\n"
    "    subprocess.Popen([sys.executable, program_path])\n"
    "    time.sleep(1.0)\n"
    "    return {'combined_score': 0.25}\n"
)
SCRIPT_SPINNER = "import signal\n\nif __name__ == '__main__':\n" + DISARM + "    while True:\n        pass\n"


def test_a_script_the_evaluator_left_running_ends_with_the_evaluation(
    pool: SandboxPool, tmp_path: Path
) -> None:
    task = task_in(tmp_path, SCRIPT_LEAVING_EVALUATOR, "print('hi')\n")
    assert evaluate(task, SCRIPT_SPINNER, pool).utility == pytest.approx(0.25)
    assert live_jobs(pool) == 0
    assert evaluate(task, "print('hi')\n", pool).utility == pytest.approx(0.25)  # honest control
    assert live_jobs(pool) == 0


# ---------------------------------------------------------------- one fair gate

SLOW_POINT = "import time\n\n\ndef propose():\n    time.sleep(1.0)\n    return 0.2, 0.1\n"
FLOOD = 25


def test_a_flood_of_evaluations_from_one_improver_does_not_starve_another(pool: SandboxPool) -> None:
    """25 slow evaluations from one owner, then one honest evaluation from another: the honest one gets
    the next free CPU slot (before: it queued behind the whole flood) and scores as it does alone."""
    task = load_task(f"openevolve:{POINT}")
    assert isinstance(task, OpenEvolveTask)
    finished: list[str] = []
    lock = threading.Lock()
    flood_started = threading.Barrier(FLOOD + 1)

    def flooder(_: int) -> float:
        with owned_by("job flooder"):
            flood_started.wait()
            utility = task.evaluate(SLOW_POINT, executor=pool).utility
        with lock:
            finished.append("flood")
        return utility

    with ThreadPoolExecutor(max_workers=FLOOD) as threads:
        flood = [threads.submit(flooder, i) for i in range(FLOOD)]
        flood_started.wait()
        for _ in range(200):  # until the flood holds every slot (the rest of it waits), or 10 s
            if pool._cpu._free == 0:
                break
            threading.Event().wait(0.05)
        with owned_by("job honest"):
            honest = task.evaluate(HONEST_POINT, executor=pool)
        with lock:
            position = len(finished)
            finished.append("honest")
        flood_scores = [future.result() for future in flood]
    assert honest.utility == pytest.approx(HONEST_SCORE, abs=1e-4)
    assert position <= pool.workers  # only the evaluations already running finished before it
    assert all(score == pytest.approx(HONEST_SCORE, abs=1e-4) for score in flood_scores)


# ---------------------------------------------------------------- no store is copied into a job

READING_CANDIDATE = (
    "import os\n\n\n"
    "def propose():\n"
    "    for root, _dirs, names in os.walk(os.getcwd()):\n"
    "        for name in names:\n"
    "            with open(os.path.join(root, name), 'rb') as handle:\n"
    "                if handle.read(16) == b'SQLite format 3\\x00':\n"
    "                    return 1.0, -2.0  # found a store: the evaluator's secret spot is in it\n"
    "    return 0.2, 0.1\n"
)


def _store(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("create table secret (seed integer)")
        db.execute("insert into secret values (12345)")
    db.close()


def test_a_candidate_cannot_read_an_earlier_runs_store_left_in_the_task_dir(
    pool: SandboxPool, tmp_path: Path
) -> None:
    directory = tmp_path / "task"
    directory.mkdir()
    for name in ("evaluator.py", "initial_program.py"):
        (directory / name).write_bytes((POINT / name).read_bytes())
    (directory / "data.txt").write_text("plain data stays\n")
    _store(directory / "runs" / "openevolve-task-s0-1" / "run.sqlite")
    _store(directory / "runs" / "openevolve-task-s0-1" / "lm_cache.sqlite")
    _store(directory / "elsewhere" / "r1" / "run.sqlite")  # a runs directory of another name
    (directory / "elsewhere" / "r1" / "notes.txt").write_text("the run's own files\n")
    _store(directory / "cache.bin")  # a database under any name
    task = load_task(f"openevolve:{directory}")
    assert isinstance(task, OpenEvolveTask)
    assert sorted(task.files) == ["data.txt", "evaluator.py", "initial_program.py"]
    assert evaluate(task, READING_CANDIDATE, pool).utility == pytest.approx(HONEST_SCORE, abs=1e-4)
    # Control: the same candidate does find a store when one is handed over as data.
    task.files["copied.db"] = (directory / "cache.bin").read_bytes()
    assert evaluate(task, READING_CANDIDATE, pool).utility == pytest.approx(1.0)
